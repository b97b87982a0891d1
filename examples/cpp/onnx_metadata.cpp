#include "onnx_metadata.h"

#include <cstdint>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace {

// A cursor over protobuf wire format: just enough to walk top-level fields and skip the rest.
class ProtoReader {
public:
    ProtoReader(const unsigned char* begin, const unsigned char* end) : pos_(begin), end_(end) {}

    bool done() const { return pos_ >= end_; }

    uint64_t varint() {
        uint64_t value = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (done()) throw std::runtime_error("truncated varint");
            const unsigned char byte = *pos_++;
            value |= uint64_t(byte & 0x7f) << shift;
            if (!(byte & 0x80)) return value;
        }
        throw std::runtime_error("varint too long");
    }

    // A length-delimited field's bytes, as a reader of their own.
    ProtoReader bytes() {
        const uint64_t length = varint();
        if (length > uint64_t(end_ - pos_)) throw std::runtime_error("field runs past the end of the file");
        ProtoReader inner(pos_, pos_ + length);
        pos_ += length;
        return inner;
    }

    std::string text() {
        ProtoReader inner = bytes();
        return std::string(inner.pos_, inner.end_);
    }

    void skip(uint64_t wire_type) {
        switch (wire_type) {
            case 0: varint(); break;
            case 1: advance(8); break;
            case 2: bytes(); break;
            case 5: advance(4); break;
            default: throw std::runtime_error("unknown protobuf wire type " + std::to_string(wire_type));
        }
    }

private:
    void advance(size_t count) {
        if (count > size_t(end_ - pos_)) throw std::runtime_error("field runs past the end of the file");
        pos_ += count;
    }

    const unsigned char* pos_;
    const unsigned char* end_;
};

constexpr uint64_t kMetadataField = 14;  // ModelProto.metadata_props
constexpr uint64_t kLengthDelimited = 2;

}  // namespace

std::vector<unsigned char> read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw std::runtime_error("cannot open " + path);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(file), {});
}

std::map<std::string, std::string> onnx_metadata(const std::vector<unsigned char>& model) {
    std::map<std::string, std::string> metadata;
    ProtoReader reader(model.data(), model.data() + model.size());
    while (!reader.done()) {
        const uint64_t tag = reader.varint();
        const uint64_t field = tag >> 3, wire_type = tag & 7;
        if (field != kMetadataField || wire_type != kLengthDelimited) {
            reader.skip(wire_type);
            continue;
        }
        ProtoReader entry = reader.bytes();  // StringStringEntryProto {1: key, 2: value}
        std::string key, value;
        while (!entry.done()) {
            const uint64_t entry_tag = entry.varint();
            if ((entry_tag & 7) != kLengthDelimited) entry.skip(entry_tag & 7);
            else if ((entry_tag >> 3) == 1) key = entry.text();
            else if ((entry_tag >> 3) == 2) value = entry.text();
            else entry.skip(kLengthDelimited);
        }
        metadata[key] = value;
    }
    return metadata;
}
