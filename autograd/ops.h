// Every differentiable op, in one include.
#pragma once

#include <tapelm/autograd/activation.h>
#include <tapelm/autograd/attention.h>
#include <tapelm/autograd/dropout.h>
#include <tapelm/autograd/elementwise.h>
#include <tapelm/autograd/embedding.h>
#include <tapelm/autograd/loss.h>
#include <tapelm/autograd/matmul.h>
#include <tapelm/autograd/norm.h>
#include <tapelm/autograd/reduce.h>
#include <tapelm/autograd/shape_ops.h>
#include <tapelm/autograd/tape.h>
