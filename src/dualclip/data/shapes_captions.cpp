#include "dualclip/data/shapes_captions.h"

#include <algorithm>
#include <cctype>

#include "dualclip/data/shapes_scene.h"

namespace dualclip::data {

namespace {

// Ways to say where the main object is, by grid row then column.
const std::vector<std::string>& position_phrases(int row, int column) {
  static const std::vector<std::vector<std::string>> phrases = {
      {"in the top left", "in the upper left corner", "in the top left corner"},
      {"at the top", "near the top", "at the top of the image"},
      {"in the top right", "in the upper right corner", "in the top right corner"},
      {"on the left", "on the left side", "at the left of the picture"},
      {"in the center", "in the middle", "in the middle of the picture"},
      {"on the right", "on the right side", "at the right of the picture"},
      {"in the bottom left", "in the lower left corner", "in the bottom left corner"},
      {"at the bottom", "near the bottom", "at the bottom of the image"},
      {"in the bottom right", "in the lower right corner", "in the bottom right corner"},
  };
  return phrases[row * 3 + column];
}

std::string with_article(const std::string& phrase) {
  const bool vowel = std::string("aeiou").find(phrase.front()) != std::string::npos;
  return (vowel ? "an " : "a ") + phrase;
}

// "a big red circle", "an orange star": the colour and shape always, the size sometimes.
std::string main_noun_phrase(SeededRandom& random, const CaptionFacts& facts) {
  static const std::vector<std::string> big_words = {"big", "large"};
  static const std::vector<std::string> small_words = {"small", "little"};
  std::string phrase = colour_names()[facts.colour] + " " + shape_names()[facts.shape];
  if (random.chance(0.6)) phrase = random.pick(facts.big ? big_words : small_words) + " " + phrase;
  return with_article(phrase);
}

std::string second_object_phrase(SeededRandom& random, const CaptionFacts& facts) {
  static const std::vector<std::string> links = {"next to", "and", "with", "beside"};
  static const std::vector<std::string> size_words = {"small", "tiny", "little"};
  std::string phrase = colour_names()[facts.second_colour] + " " + shape_names()[facts.second_shape];
  if (random.chance(0.5)) phrase = random.pick(size_words) + " " + phrase;
  return random.pick(links) + " " + with_article(phrase);
}

std::string one_caption(SeededRandom& random, const CaptionFacts& facts, double plain_fraction) {
  static const std::vector<std::string> picture_words = {"a picture of", "an image of", "a photo of", "a drawing of"};
  static const std::vector<std::string> placed_words = {"drawn", "sitting", "placed"};
  static const std::vector<std::string> dark_words = {"on a dark background", "against a dark backdrop"};
  static const std::vector<std::string> light_words = {"on a light background", "against a pale backdrop"};
  const std::string object = main_noun_phrase(random, facts);
  const std::string where = random.pick(position_phrases(facts.row, facts.column));
  const std::string background = random.pick(facts.dark_background ? dark_words : light_words);

  // A plain caption names the main object alone. The others add its position, the background or
  // both, in one of six sentence forms.
  std::string caption;
  if (random.chance(plain_fraction)) {
    caption = random.chance(0.5) ? object : random.pick(picture_words) + " " + object;
  } else {
    switch (random.below(6)) {
      case 0: caption = object + " " + where; break;
      case 1: caption = "there is " + object + " " + where; break;
      case 2: caption = object + " " + background; break;
      case 3: caption = object + " " + where + " " + background; break;
      case 4: caption = where + ", there is " + object; break;
      default: caption = object + " " + random.pick(placed_words) + " " + where; break;
    }
  }
  if (facts.has_second_object && random.chance(0.5)) {
    // Mentioned after the main object so that the first colour and shape named stay the main ones.
    const std::string label = shapes_class_name(facts.colour * 4 + facts.shape);
    caption.insert(caption.find(label) + label.size(), " " + second_object_phrase(random, facts));
  }

  // Human captions vary in capitals and full stops; the tokenizer lowercases anyway.
  if (random.chance(0.3)) caption[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(caption[0])));
  if (random.chance(0.3)) caption += ".";
  return caption;
}

}  // namespace

std::vector<std::string> write_scene_captions(SeededRandom& random, const CaptionFacts& facts, int count,
                                              double plain_fraction) {
  // Captions that differ only in a capital or a full stop count as repeats.
  auto normalise = [](std::string text) {
    if (!text.empty() && text.back() == '.') text.pop_back();
    text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
    return text;
  };
  std::vector<std::string> captions, seen;
  for (int attempt = 0; static_cast<int>(captions.size()) < count; ++attempt) {
    std::string caption = one_caption(random, facts, plain_fraction);
    // After many attempts accept repeats, so a large count cannot loop forever.
    const bool repeat = std::find(seen.begin(), seen.end(), normalise(caption)) != seen.end();
    if (!repeat || attempt >= 20 * count) {
      seen.push_back(normalise(caption));
      captions.push_back(std::move(caption));
    }
  }
  return captions;
}

}  // namespace dualclip::data
