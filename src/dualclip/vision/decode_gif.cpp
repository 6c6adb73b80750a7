// The first frame of a GIF through giflib, laid out as Pillow 9.4 loads frame 0: a canvas of
// the logical screen size filled with the frame's transparent index when it has one, else
// index 0; the frame's pixels on top; every index mapped through the local colour table,
// else the global one, else read as a gray level.
#include <algorithm>
#include <cstring>
#include <vector>

#include <gif_lib.h>

#include "dualclip/core/error.h"
#include "dualclip/vision/codecs.h"

namespace dualclip::vision::detail {
namespace {

struct ReadState {
  const std::string* bytes;
  size_t offset;
};

int read_bytes(GifFileType* gif, GifByteType* out, int length) {
  auto* state = static_cast<ReadState*>(gif->UserData);
  const size_t available = state->bytes->size() - state->offset;
  const size_t n = std::min<size_t>(available, static_cast<size_t>(length));
  std::memcpy(out, state->bytes->data() + state->offset, n);
  state->offset += n;
  return static_cast<int>(n);
}

// Closes the giflib handle however the decoder leaves.
struct GifCloser {
  GifFileType* gif;
  ~GifCloser() {
    int ignored = 0;
    if (gif != nullptr) DGifCloseFile(gif, &ignored);
  }
};

[[noreturn]] void fail(const GifFileType* gif, const char* step) {
  const char* reason = GifErrorString(gif->Error);
  throw Error(std::string("invalid GIF data while reading ") + step + ": " + (reason ? reason : "unknown giflib error"));
}

// The transparent colour index of a Graphics Control Extension, or -1.
int transparent_index(const GifByteType* block) {
  if (block == nullptr || block[0] < 4) return -1;
  return (block[1] & 0x01) ? block[4] : -1;
}

}  // namespace

DecodedImage decode_gif(const std::string& bytes, const DecodeOptions& options) {
  ReadState state{&bytes, 0};
  int open_error = 0;
  GifCloser closer{DGifOpen(&state, read_bytes, &open_error)};
  GifFileType* gif = closer.gif;
  if (gif == nullptr) {
    const char* reason = GifErrorString(open_error);
    throw Error(std::string("invalid GIF data: ") + (reason ? reason : "unknown giflib error"));
  }

  // Walk the records up to the first image, remembering the transparency of the last
  // Graphics Control Extension before it.
  int transparency = -1;
  while (true) {
    GifRecordType record;
    if (DGifGetRecordType(gif, &record) == GIF_ERROR) fail(gif, "a record type");
    if (record == TERMINATE_RECORD_TYPE) throw Error("the GIF file contains no image");
    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif, &code, &block) == GIF_ERROR) fail(gif, "an extension");
      if (code == GRAPHICS_EXT_FUNC_CODE) transparency = transparent_index(block);
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif, &block) == GIF_ERROR) fail(gif, "an extension");
      }
      continue;
    }
    if (record == IMAGE_DESC_RECORD_TYPE) break;
  }
  if (DGifGetImageDesc(gif) == GIF_ERROR) fail(gif, "the image descriptor");
  const GifImageDesc& frame = gif->Image;

  // Canvas of palette indices. NOTE: a frame reaching past the logical screen grows the
  // canvas to hold it; Pillow's handling of such files was not checked.
  const int64_t width = std::max<int64_t>(gif->SWidth, frame.Left + frame.Width);
  const int64_t height = std::max<int64_t>(gif->SHeight, frame.Top + frame.Height);
  const std::string limit_message = pixel_limit_problem(width, height, options.max_pixels);
  if (!limit_message.empty()) throw Error(limit_message);
  std::vector<uint8_t> indices(width * height, static_cast<uint8_t>(transparency >= 0 ? transparency : 0));

  // Frame rows; interlaced frames store rows 0, 8, 16.. then 4, 12.. then 2, 6.. then 1, 3..
  std::vector<GifPixelType> line(frame.Width);
  std::vector<int64_t> row_order;
  if (frame.Interlace) {
    const int starts[4] = {0, 4, 2, 1};
    const int steps[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int64_t y = starts[pass]; y < frame.Height; y += steps[pass]) row_order.push_back(y);
    }
  } else {
    for (int64_t y = 0; y < frame.Height; ++y) row_order.push_back(y);
  }
  for (int64_t y : row_order) {
    if (frame.Width > 0 && DGifGetLine(gif, line.data(), frame.Width) == GIF_ERROR) fail(gif, "the pixels");
    std::memcpy(indices.data() + (frame.Top + y) * width + frame.Left, line.data(), frame.Width);
  }

  // Indices to RGB.
  uint8_t lookup[256][3];
  for (int i = 0; i < 256; ++i) lookup[i][0] = lookup[i][1] = lookup[i][2] = static_cast<uint8_t>(i);
  const ColorMapObject* colors = frame.ColorMap != nullptr ? frame.ColorMap : gif->SColorMap;
  if (colors != nullptr) {
    // NOTE: indices past the end of the colour table become black; Pillow's result for such
    // files was not checked.
    std::memset(lookup, 0, sizeof(lookup));
    for (int i = 0; i < colors->ColorCount && i < 256; ++i) {
      lookup[i][0] = colors->Colors[i].Red;
      lookup[i][1] = colors->Colors[i].Green;
      lookup[i][2] = colors->Colors[i].Blue;
    }
  }
  DecodedImage decoded;
  decoded.image.width = width;
  decoded.image.height = height;
  decoded.image.rgb.resize(width * height * 3);
  for (size_t i = 0; i < indices.size(); ++i) std::memcpy(&decoded.image.rgb[i * 3], lookup[indices[i]], 3);
  return decoded;
}

}  // namespace dualclip::vision::detail
