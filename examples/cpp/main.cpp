// Track hands in a video file or camera with an exported HeatmapNet model and OpenCV DNN.
//
//   heatmapnet_track model.onnx video.mp4|CAMERA_INDEX [--show] [--save out.avi] [--threads N] [--max-frames N]
//   heatmapnet_track --version    (the OpenCV version it was built with)
//
// Prints one line per frame: `frame N: (x, y) score [w x h]; ...` in source-frame pixels, `frame N: -` when empty.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>

#include <opencv2/core/version.hpp>
#include <opencv2/highgui.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include "hand_detector.h"

namespace {

// A mistake on the command line: reported together with the usage line.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Options {
    std::string model, source, save;
    bool show = false;
    int threads = 2;
    long max_frames = -1;
};

const char* kUsage =
    "usage: heatmapnet_track MODEL.onnx VIDEO|CAMERA_INDEX [--show] [--save OUT.avi] [--threads N] [--max-frames N]";

long number(const std::string& option, const char* text) {
    try {
        return std::stol(text);
    } catch (const std::exception&) {
        throw UsageError(option + " expects a number, got '" + text + "'");
    }
}

Options parse(int argc, char** argv) {
    Options options;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        if (arg == "--show") options.show = true;
        else if (arg == "--save" && has_value) options.save = argv[++i];
        else if (arg == "--threads" && has_value) options.threads = int(number(arg, argv[++i]));
        else if (arg == "--max-frames" && has_value) options.max_frames = number(arg, argv[++i]);
        else if (arg.rfind("--", 0) == 0) throw UsageError("unknown or incomplete option " + arg);
        else if (options.model.empty()) options.model = arg;
        else if (options.source.empty()) options.source = arg;
        else throw UsageError("unexpected argument " + arg);
    }
    if (options.source.empty()) throw UsageError("need a model and a video or camera index");
    return options;
}

cv::VideoCapture open_source(const std::string& source) {
    const bool camera = source.find_first_not_of("0123456789") == std::string::npos;
    if (!camera && source.find("://") == std::string::npos && !std::ifstream(source))
        throw std::runtime_error("video not found: " + source);
    cv::VideoCapture capture = camera ? cv::VideoCapture(std::stoi(source)) : cv::VideoCapture(source);
    if (!capture.isOpened())
        throw std::runtime_error("cannot open " + std::string(camera ? "camera " : "video ") + source);
    return capture;
}

void print(long index, const std::vector<Hand>& hands) {
    std::printf("frame %ld:", index);
    if (hands.empty()) std::printf(" -");
    for (size_t i = 0; i < hands.size(); ++i) {
        const Hand& hand = hands[i];
        std::printf("%s (%.3f, %.3f) %.4f", i ? ";" : "", hand.x, hand.y, hand.score);
        if (!std::isnan(hand.w)) std::printf(" [%.1f x %.1f]", hand.w, hand.h);
    }
    std::printf("\n");
}

void draw(cv::Mat& frame, const std::vector<Hand>& hands) {
    for (const Hand& hand : hands) {
        const cv::Point2f centre(hand.x, hand.y);
        if (!std::isnan(hand.w))
            cv::rectangle(frame, cv::Rect2f(hand.x - hand.w / 2, hand.y - hand.h / 2, hand.w, hand.h),
                          cv::Scalar(0, 200, 0), 2);
        cv::circle(frame, centre, 5, cv::Scalar(0, 0, 255), cv::FILLED);
        cv::putText(frame, cv::format("%.2f", hand.score), centre + cv::Point2f(8, -8), cv::FONT_HERSHEY_SIMPLEX, 0.5,
                    cv::Scalar(255, 255, 255), 1);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "--version") {
        std::printf("OpenCV %s\n", CV_VERSION);
        return 0;
    }
    try {
        const Options options = parse(argc, argv);
        HandDetector detector(options.model, options.threads);
        cv::VideoCapture capture = open_source(options.source);
        cv::VideoWriter writer;
        cv::Mat frame;
        for (long index = 0; options.max_frames < 0 || index < options.max_frames; ++index) {
            if (!capture.read(frame) || frame.empty()) break;
            const std::vector<Hand> hands = detector(frame);
            print(index, hands);
            if (!options.show && options.save.empty()) continue;
            draw(frame, hands);
            if (!options.save.empty()) {
                if (!writer.isOpened() &&
                    !writer.open(options.save, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), 30, frame.size()))
                    throw std::runtime_error("cannot write " + options.save);
                writer.write(frame);
            }
            if (options.show) {
                cv::imshow("heatmapnet", frame);
                if (cv::waitKey(1) == 27) break;  // Esc
            }
        }
    } catch (const UsageError& error) {
        std::cerr << "error: " << error.what() << "\n" << kUsage << "\n";
        return 2;
    } catch (const cv::Exception& error) {
        std::cerr << "error: OpenCV: " << error.err << " (in " << error.func << ")\n";
        return 2;
    } catch (const std::exception& error) {
        std::cerr << "error: " << error.what() << "\n";
        return 2;
    }
    return 0;
}
