// HeatmapNet inference with OpenCV DNN: the same resize, peak NMS and sub-pixel refinement as the
// Python pipeline (heatmapnet/preprocess.py, heatmapnet/decode.py), so positions agree to a fraction of a pixel.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>

// Model and decode settings, read from the ONNX metadata written by `python -m heatmapnet.export`.
struct ModelSettings {
    int stride = 8;
    int input_width = 320;
    int input_height = 240;
    bool letterbox = true;  // "letterbox" keeps the aspect ratio and pads; "stretch" scales each axis
    bool follow_orientation = true;  // "follow": portrait frames get the input turned portrait (same cost)
    float threshold = 0.5f;
    int top_k = 10;
    int nms_kernel = 3;

    static ModelSettings from_metadata(const std::map<std::string, std::string>& metadata);
};

// A hand in source-frame pixels (continuous coordinates: pixel k covers [k, k+1)); w and h are NaN without a size head.
struct Hand {
    float x, y, score, w, h;
};

// Frame -> network input and back: an axis-aligned scale plus the letterbox padding offset.
class FrameTransform {
public:
    FrameTransform(cv::Size source, const ModelSettings& settings);
    cv::Mat apply(const cv::Mat& frame) const;
    cv::Point2d to_source(cv::Point2d point) const;
    cv::Point2d scale() const { return scale_; }

private:
    cv::Size input_, resized_;
    cv::Point offset_;
    cv::Point2d scale_;
};

// Peaks of a 1 x 1 x h x w logit map: sigmoid, NMS, threshold, top-k, 3x3 weighted-mean refinement.
// Positions are in network-input pixels; `size` (1 x 2 x h x w, in cells) may be empty.
std::vector<Hand> decode_peaks(const cv::Mat& logits, const cv::Mat& size, const ModelSettings& settings);

class HandDetector {
public:
    HandDetector(const std::string& model_path, int threads);
    std::vector<Hand> operator()(const cv::Mat& frame_bgr);
    const ModelSettings& settings() const { return settings_; }

private:
    ModelSettings settings_;
    cv::dnn::Net net_;
    std::vector<std::string> outputs_;
};
