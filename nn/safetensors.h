// Safetensors files: the checkpoint format shared with PyTorch/Hugging Face tools.
//
// Layout: an 8-byte little-endian header length N, N bytes of JSON
//   {"<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//    "__metadata__": {"<key>": "<value>", ...}}
// padded with spaces to a multiple of 8 bytes, then the raw little-endian tensor data;
// offsets are relative to the start of the data section. Only F32 tensors are written
// and read (other dtypes are rejected naming the tensor and dtype).
//
// Loading never trusts the file: every malformed header, inconsistent offset or size
// mismatch raises SafetensorsError (autograd/errors.h, a std::runtime_error) naming the file
// and the offending tensor/field; so do invalid names given to save_safetensors.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <tapelm/autograd/tensor.h>
#include <tapelm/nn/module.h>

namespace tapelm {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using TensorMetadata = std::map<std::string, std::string>;

struct SafetensorsContents {
  std::map<std::string, Tensor> tensors;  // ordered by name
  TensorMetadata metadata;                // the "__metadata__" object (empty if absent)
};

// Writes `tensors` (data laid out in name order, so output is deterministic) with
// `metadata`. The file is written beside `path` under a temporary name, fsynced, renamed
// over `path` and the directory fsynced: a crash leaves either the old or the new file.
void save_safetensors(const std::string& path, const NamedTensors& tensors,
                      const TensorMetadata& metadata = {});

SafetensorsContents load_safetensors(const std::string& path);

// Module checkpoints: parameter values keyed by their dotted names.
void save_parameters(const std::string& path, const NamedParameters& params,
                     const TensorMetadata& metadata = {});

struct ParameterLoadReport {
  std::vector<std::string> loaded;      // parameter names whose values were replaced
  std::vector<std::string> missing;     // parameters absent from the file (left untouched)
  std::vector<std::string> unexpected;  // file tensors matching no parameter (ignored)
  TensorMetadata metadata;
};

// Copies file values into the parameters in place (storage is kept, so optimizers and
// tied references stay valid). A shape mismatch is always an error naming the tensor and
// both shapes. strict: missing or unexpected names are an error listing them all;
// non-strict: what matches is loaded and the rest is reported (e.g. fine-tuning with a
// new head). Nothing is modified unless the whole load succeeds.
ParameterLoadReport load_parameters(const std::string& path, const NamedParameters& params,
                                    bool strict = true);

}  // namespace tapelm
