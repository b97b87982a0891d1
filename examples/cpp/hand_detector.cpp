#include "hand_detector.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <stdexcept>

#include <opencv2/imgproc.hpp>

#include "onnx_metadata.h"

namespace {

std::string required(const std::map<std::string, std::string>& metadata, const std::string& key) {
    const auto found = metadata.find(key);
    if (found == metadata.end())
        throw std::runtime_error("model metadata has no '" + key + "': re-export with `python -m heatmapnet.export`");
    return found->second;
}

// The network input for a frame: turned portrait for a portrait frame when the model follows the orientation
// (heatmapnet/model/config.py ModelConfig.input_size_for).
cv::Size input_size_for(cv::Size source, const ModelSettings& settings) {
    const bool turn = settings.follow_orientation &&
                      (source.height > source.width) != (settings.input_height > settings.input_width);
    return turn ? cv::Size(settings.input_height, settings.input_width)
                : cv::Size(settings.input_width, settings.input_height);
}

// Python's round(): half to even, which is what std::nearbyint does in the default rounding mode.
int round_half_even(double value) { return static_cast<int>(std::nearbyint(value)); }

}  // namespace

ModelSettings ModelSettings::from_metadata(const std::map<std::string, std::string>& metadata) {
    const auto format = metadata.find("format");
    if (format == metadata.end() || format->second != "heatmapnet-onnx")
        throw std::runtime_error("not a HeatmapNet export (no 'heatmapnet-onnx' metadata): export the checkpoint "
                                 "with `python -m heatmapnet.export checkpoint=PATH out=model.onnx`");
    ModelSettings settings;
    settings.stride = std::stoi(required(metadata, "stride"));
    settings.input_width = std::stoi(required(metadata, "input_width"));
    settings.input_height = std::stoi(required(metadata, "input_height"));
    settings.letterbox = required(metadata, "resize") == "letterbox";
    const auto orientation = metadata.find("orientation");  // absent in exports before it existed: follow
    settings.follow_orientation = orientation == metadata.end() || orientation->second == "follow";
    settings.threshold = std::stof(required(metadata, "threshold"));
    settings.top_k = std::stoi(required(metadata, "top_k"));
    settings.nms_kernel = std::stoi(required(metadata, "nms_kernel"));
    const std::string refine = required(metadata, "refine");
    if (refine != "weighted")
        std::cerr << "warning: the model's decode uses refine=" << refine
                  << "; this example implements the default 3x3 weighted mean only\n";
    return settings;
}

FrameTransform::FrameTransform(cv::Size source, const ModelSettings& settings)
    : input_(input_size_for(source, settings)), resized_(input_) {
    if (settings.letterbox) {
        const double s = std::min(double(input_.width) / source.width, double(input_.height) / source.height);
        resized_ = cv::Size(std::min(input_.width, std::max(1, round_half_even(source.width * s))),
                            std::min(input_.height, std::max(1, round_half_even(source.height * s))));
    }
    scale_ = {double(resized_.width) / source.width, double(resized_.height) / source.height};
    offset_ = {(input_.width - resized_.width) / 2, (input_.height - resized_.height) / 2};
}

cv::Mat FrameTransform::apply(const cv::Mat& frame) const {
    cv::Mat resized = frame;
    if (frame.size() != resized_) {
        const bool shrinking = resized_.width < frame.cols;
        cv::resize(frame, resized, resized_, 0, 0, shrinking ? cv::INTER_AREA : cv::INTER_LINEAR);
    }
    if (resized_ == input_) return resized;
    cv::Mat padded;
    cv::copyMakeBorder(resized, padded, offset_.y, input_.height - resized_.height - offset_.y, offset_.x,
                       input_.width - resized_.width - offset_.x, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    return padded;
}

cv::Point2d FrameTransform::to_source(cv::Point2d point) const {
    return {(point.x - offset_.x) / scale_.x, (point.y - offset_.y) / scale_.y};
}

std::vector<Hand> decode_peaks(const cv::Mat& logits, const cv::Mat& size, const ModelSettings& settings) {
    const int rows = logits.size[2], cols = logits.size[3];
    cv::Mat prob(rows, cols, CV_32F);
    const float* logit = logits.ptr<float>();
    for (int i = 0; i < rows * cols; ++i) prob.ptr<float>()[i] = 1.0f / (1.0f + std::exp(-logit[i]));

    const int radius = settings.nms_kernel / 2;
    std::vector<cv::Point> peaks;  // raster order, as torch's nonzero() gives them
    for (int y = 0; y < rows; ++y)
        for (int x = 0; x < cols; ++x) {
            const float p = prob.at<float>(y, x);
            if (p < settings.threshold) continue;
            bool is_max = true;
            for (int v = std::max(0, y - radius); v <= std::min(rows - 1, y + radius) && is_max; ++v)
                for (int u = std::max(0, x - radius); u <= std::min(cols - 1, x + radius); ++u)
                    if (prob.at<float>(v, u) > p) { is_max = false; break; }
            if (is_max) peaks.emplace_back(x, y);
        }
    std::stable_sort(peaks.begin(), peaks.end(), [&](cv::Point a, cv::Point b) {
        return prob.at<float>(a) > prob.at<float>(b);
    });
    if (int(peaks.size()) > settings.top_k) peaks.resize(settings.top_k);

    std::vector<Hand> hands;
    for (const cv::Point& peak : peaks) {
        // Weighted mean of the 3x3 window (cells outside the map weigh nothing), as offsets from the peak cell.
        float total = 0.f, dx = 0.f, dy = 0.f;
        for (int v = -1; v <= 1; ++v)
            for (int u = -1; u <= 1; ++u) {
                const int y = peak.y + v, x = peak.x + u;
                if (y < 0 || y >= rows || x < 0 || x >= cols) continue;
                const float weight = prob.at<float>(y, x);
                total += weight;
                dx += weight * u;
                dy += weight * v;
            }
        total = std::max(total, 1e-12f);
        Hand hand{(peak.x + dx / total + 0.5f) * settings.stride, (peak.y + dy / total + 0.5f) * settings.stride,
                  prob.at<float>(peak), std::numeric_limits<float>::quiet_NaN(),
                  std::numeric_limits<float>::quiet_NaN()};
        if (!size.empty()) {
            const float* sizes = size.ptr<float>();
            hand.w = std::max(0.f, sizes[peak.y * cols + peak.x]) * settings.stride;
            hand.h = std::max(0.f, sizes[(rows + peak.y) * cols + peak.x]) * settings.stride;
        }
        hands.push_back(hand);
    }
    return hands;
}

HandDetector::HandDetector(const std::string& model_path, int threads) {
    const std::vector<unsigned char> model = read_file(model_path);
    std::map<std::string, std::string> metadata;
    try {
        metadata = onnx_metadata(model);
    } catch (const std::runtime_error& error) {
        throw std::runtime_error("cannot read ONNX model " + model_path + ": " + error.what() +
                                 " (is it an ONNX export, complete and not corrupt?)");
    }
    settings_ = ModelSettings::from_metadata(metadata);
    if (threads > 0) cv::setNumThreads(threads);
    try {
        net_ = cv::dnn::readNetFromONNX(model);
    } catch (const cv::Exception& error) {
        const bool old_opencv = CV_VERSION_MAJOR == 4 && CV_VERSION_MINOR < 7;
        std::string reason = error.err;
        std::replace(reason.begin(), reason.end(), '\n', ' ');
        throw std::runtime_error("OpenCV " CV_VERSION " cannot load " + model_path +
                                 (old_opencv ? " (OpenCV < 4.7 needs a model exported with opencv_compat=true)" : "") +
                                 ": " + reason.substr(0, 300));
    }
    for (const std::string& name : net_.getUnconnectedOutLayersNames())
        if (name == "heatmap" || name == "size") outputs_.push_back(name);
    std::sort(outputs_.begin(), outputs_.end());  // "heatmap" first, then "size" if the model has a size head
    if (outputs_.empty() || outputs_[0] != "heatmap")
        throw std::runtime_error(model_path + " has no 'heatmap' output: re-export it with heatmapnet.export");
}

std::vector<Hand> HandDetector::operator()(const cv::Mat& frame_bgr) {
    const FrameTransform transform(frame_bgr.size(), settings_);
    // The graph takes float32 N x 3 x H x W RGB in [0, 1] and normalises inside.
    net_.setInput(cv::dnn::blobFromImage(transform.apply(frame_bgr), 1.0 / 255.0, cv::Size(), cv::Scalar(), true, false),
                  "image");
    std::vector<cv::Mat> outputs;
    net_.forward(outputs, outputs_);
    std::vector<Hand> hands = decode_peaks(outputs[0], outputs.size() > 1 ? outputs[1] : cv::Mat(), settings_);
    for (Hand& hand : hands) {
        const cv::Point2d centre = transform.to_source({hand.x, hand.y});
        hand.x = float(centre.x);
        hand.y = float(centre.y);
        hand.w /= float(transform.scale().x);
        hand.h /= float(transform.scale().y);
    }
    return hands;
}
