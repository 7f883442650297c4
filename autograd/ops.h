// Every differentiable op, in one include.
#pragma once

#include "autograd/activation.h"
#include "autograd/attention.h"
#include "autograd/dropout.h"
#include "autograd/elementwise.h"
#include "autograd/embedding.h"
#include "autograd/loss.h"
#include "autograd/matmul.h"
#include "autograd/norm.h"
#include "autograd/reduce.h"
#include "autograd/shape_ops.h"
#include "autograd/tape.h"
