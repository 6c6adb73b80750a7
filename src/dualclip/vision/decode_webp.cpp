// WebP through libwebp's animation decoder, as Pillow 9.4 opens every WebP file: the first
// frame rendered in non-premultiplied RGBA on a transparent black canvas, then alpha dropped.
// A still image is a one-frame animation here.
#include <webp/decode.h>
#include <webp/demux.h>

#include "dualclip/core/error.h"
#include "dualclip/vision/codecs.h"

namespace dualclip::vision::detail {
namespace {

struct DemuxerCloser {
  WebPDemuxer* demuxer;
  ~DemuxerCloser() { WebPDemuxDelete(demuxer); }
};

struct AnimDecoderCloser {
  WebPAnimDecoder* decoder;
  ~AnimDecoderCloser() { WebPAnimDecoderDelete(decoder); }
};

}  // namespace

DecodedImage decode_webp(const std::string& bytes, const DecodeOptions& options) {
  WebPData data{reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};

  // The container first: canvas size (checked before any pixel buffer exists) and EXIF.
  DemuxerCloser demuxer{WebPDemux(&data)};
  if (demuxer.demuxer == nullptr) throw Error("invalid WebP data: the RIFF container could not be parsed");
  const int64_t width = WebPDemuxGetI(demuxer.demuxer, WEBP_FF_CANVAS_WIDTH);
  const int64_t height = WebPDemuxGetI(demuxer.demuxer, WEBP_FF_CANVAS_HEIGHT);
  const std::string limit_message = pixel_limit_problem(width, height, options.max_pixels);
  if (!limit_message.empty()) throw Error(limit_message);

  DecodedImage decoded;
  WebPChunkIterator chunk;
  if (WebPDemuxGetChunk(demuxer.demuxer, "EXIF", 1, &chunk)) {
    decoded.exif.assign(reinterpret_cast<const char*>(chunk.chunk.bytes), chunk.chunk.size);
    WebPDemuxReleaseChunkIterator(&chunk);
  }

  // The first frame.
  WebPAnimDecoderOptions decoder_options;
  if (!WebPAnimDecoderOptionsInit(&decoder_options)) throw Error("libwebp rejected its own default options");
  decoder_options.color_mode = MODE_RGBA;
  decoder_options.use_threads = 0;
  AnimDecoderCloser decoder{WebPAnimDecoderNew(&data, &decoder_options)};
  if (decoder.decoder == nullptr) throw Error("invalid WebP data: the decoder could not be created");
  uint8_t* rgba = nullptr;
  int timestamp = 0;
  if (!WebPAnimDecoderGetNext(decoder.decoder, &rgba, &timestamp)) {
    throw Error("invalid WebP data: the first frame could not be decoded (truncated or corrupt file)");
  }

  decoded.image.width = width;
  decoded.image.height = height;
  decoded.image.rgb.resize(width * height * 3);
  for (int64_t i = 0; i < width * height; ++i) {
    decoded.image.rgb[i * 3 + 0] = rgba[i * 4 + 0];
    decoded.image.rgb[i * 3 + 1] = rgba[i * 4 + 1];
    decoded.image.rgb[i * 3 + 2] = rgba[i * 4 + 2];
  }
  return decoded;
}

}  // namespace dualclip::vision::detail
