// Reads an ONNX file's key/value metadata, where `python -m heatmapnet.export` stores the stride,
// input size and decode settings, without depending on protobuf or onnxruntime.
#pragma once

#include <map>
#include <string>
#include <vector>

// The whole file, so the same bytes can be handed to cv::dnn::readNetFromONNX.
std::vector<unsigned char> read_file(const std::string& path);

// ModelProto.metadata_props (field 14) as a map; throws std::runtime_error on a malformed file.
std::map<std::string, std::string> onnx_metadata(const std::vector<unsigned char>& model);
