#include "dualclip/io/torch_bin.h"

#include <cstring>
#include <memory>
#include <variant>
#include <vector>

#include "dualclip/core/error.h"
#include "dualclip/io/zip_archive.h"

namespace dualclip::io {

namespace {

// The values a state-dict pickle builds. Dicts keep insertion order; keys must be strings.
struct Value;
using ValuePtr = std::shared_ptr<Value>;

struct Global {
  std::string module, name;
  std::string full() const { return module + "." + name; }
};

struct Value {
  enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Tensor, Mark };
  Kind kind = Kind::None;
  int64_t integer = 0;
  double real = 0;
  std::string text;
  std::vector<ValuePtr> items;                        // Tuple, List
  std::vector<std::pair<std::string, ValuePtr>> dict;  // Dict
  Global global;
  torch::Tensor tensor;  // Tensor, also a storage (a flat tensor of its dtype)
};

ValuePtr make(Value::Kind kind) {
  auto value = std::make_shared<Value>();
  value->kind = kind;
  return value;
}

// Storage classes torch.save names in persistent ids, and their element types.
bool storage_dtype(const Global& global, torch::Dtype* dtype) {
  static const std::pair<const char*, torch::Dtype> kStorages[] = {
      {"FloatStorage", torch::kFloat32}, {"DoubleStorage", torch::kFloat64}, {"HalfStorage", torch::kFloat16},
      {"BFloat16Storage", torch::kBFloat16}, {"LongStorage", torch::kInt64}, {"IntStorage", torch::kInt32},
      {"ShortStorage", torch::kInt16},     {"CharStorage", torch::kInt8},    {"ByteStorage", torch::kUInt8},
      {"BoolStorage", torch::kBool},
  };
  if (global.module != "torch") return false;
  for (const auto& [name, type] : kStorages) {
    if (global.name == name) {
      *dtype = type;
      return true;
    }
  }
  return false;
}

// The globals a state dict may reference; everything else is rejected before it is used.
bool allowed_global(const Global& global) {
  torch::Dtype unused;
  return (global.module == "collections" && global.name == "OrderedDict") ||
         (global.module == "torch._utils" &&
          (global.name == "_rebuild_tensor_v2" || global.name == "_rebuild_parameter")) ||
         storage_dtype(global, &unused);
}

// A pickle virtual machine for protocols 2 to 4, limited to what torch.save emits for a
// state dict.
class Unpickler {
 public:
  Unpickler(const ZipArchive& archive, std::string prefix, std::string pickle, std::string file)
      : archive_(archive), prefix_(std::move(prefix)), data_(std::move(pickle)), file_(std::move(file)) {}

  ValuePtr run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(file_ + ": cannot load the pickled state dict: " + what +
                " (only tensors, dicts and plain values are accepted)");
  }

  const uint8_t* take(size_t bytes) {
    if (bytes > data_.size() - position_) fail("the pickle data ends early (truncated file)");
    const uint8_t* start = reinterpret_cast<const uint8_t*>(data_.data()) + position_;
    position_ += bytes;
    return start;
  }
  uint64_t take_le(int bytes) {
    const uint8_t* p = take(bytes);
    uint64_t value = 0;
    for (int i = bytes - 1; i >= 0; --i) value = (value << 8) | p[i];
    return value;
  }
  std::string take_string(size_t bytes) { return std::string(reinterpret_cast<const char*>(take(bytes)), bytes); }
  std::string take_line() {
    size_t end = data_.find('\n', position_);
    if (end == std::string::npos) fail("the pickle data ends early (truncated file)");
    std::string line = data_.substr(position_, end - position_);
    position_ = end + 1;
    return line;
  }

  ValuePtr pop() {
    if (stack_.empty()) fail("stack underflow (corrupt pickle)");
    ValuePtr value = stack_.back();
    stack_.pop_back();
    return value;
  }
  ValuePtr& top() {
    if (stack_.empty()) fail("stack underflow (corrupt pickle)");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    for (size_t i = stack_.size(); i-- > 0;) {
      if (stack_[i]->kind == Value::Kind::Mark) {
        std::vector<ValuePtr> items(stack_.begin() + i + 1, stack_.end());
        stack_.resize(i);
        return items;
      }
    }
    fail("MARK not found (corrupt pickle)");
  }

  ValuePtr make_global(std::string module, std::string name);
  void set_items(const ValuePtr& dict, const std::vector<ValuePtr>& pairs);
  ValuePtr load_storage(const ValuePtr& persistent_id);
  ValuePtr call(const ValuePtr& callable, const ValuePtr& args);
  ValuePtr rebuild_tensor(const std::vector<ValuePtr>& args);

  const ZipArchive& archive_;
  std::string prefix_;
  std::string data_;
  std::string file_;
  size_t position_ = 0;
  std::vector<ValuePtr> stack_;
  std::map<uint64_t, ValuePtr> memo_;
  std::map<std::string, ValuePtr> storages_;
};

ValuePtr Unpickler::make_global(std::string module, std::string name) {
  auto value = make(Value::Kind::Global);
  value->global = Global{std::move(module), std::move(name)};
  if (!allowed_global(value->global)) fail("it references the global \"" + value->global.full() + "\"");
  return value;
}

void Unpickler::set_items(const ValuePtr& dict, const std::vector<ValuePtr>& pairs) {
  if (dict->kind != Value::Kind::Dict || pairs.size() % 2 != 0) fail("SETITEMS on something other than a dict");
  for (size_t i = 0; i < pairs.size(); i += 2) {
    if (pairs[i]->kind != Value::Kind::String) fail("a dict key is not a string");
    dict->dict.emplace_back(pairs[i]->text, pairs[i + 1]);
  }
}

// A persistent id ('storage', <torch.*Storage>, key, location, numel) names the raw bytes of
// one storage at <archive>/data/<key>.
ValuePtr Unpickler::load_storage(const ValuePtr& persistent_id) {
  const auto& fields = persistent_id->items;
  if (persistent_id->kind != Value::Kind::Tuple || fields.size() != 5 || fields[0]->kind != Value::Kind::String ||
      fields[0]->text != "storage" || fields[1]->kind != Value::Kind::Global || fields[2]->kind != Value::Kind::String ||
      fields[4]->kind != Value::Kind::Int) {
    fail("a persistent id is not a tensor storage reference");
  }
  const std::string& key = fields[2]->text;
  if (auto found = storages_.find(key); found != storages_.end()) return found->second;

  torch::Dtype dtype;
  if (!storage_dtype(fields[1]->global, &dtype)) fail("unknown storage type \"" + fields[1]->global.full() + "\"");
  int64_t numel = fields[4]->integer;
  const ZipEntry& entry = archive_.entry(prefix_ + "data/" + key);
  if (numel < 0 || static_cast<uint64_t>(numel) * c10::elementSize(dtype) > entry.size) {
    fail("storage " + key + " declares " + std::to_string(numel) + " elements but its entry holds " +
         std::to_string(entry.size) + " bytes");
  }

  auto storage = make(Value::Kind::Tensor);
  storage->tensor = tensor_from_mapping(archive_.file(), entry.data_offset, numel * c10::elementSize(dtype), {numel}, dtype);
  storages_[key] = storage;
  return storage;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
ValuePtr Unpickler::rebuild_tensor(const std::vector<ValuePtr>& args) {
  if (args.size() < 4 || args[0]->kind != Value::Kind::Tensor || args[1]->kind != Value::Kind::Int ||
      args[2]->kind != Value::Kind::Tuple || args[3]->kind != Value::Kind::Tuple ||
      args[2]->items.size() != args[3]->items.size()) {
    fail("malformed _rebuild_tensor_v2 arguments");
  }
  std::vector<int64_t> size, stride;
  for (const auto& item : args[2]->items) size.push_back(item->integer);
  for (const auto& item : args[3]->items) stride.push_back(item->integer);

  // The last element addressed must lie inside the storage.
  int64_t offset = args[1]->integer;
  int64_t last = offset;
  bool empty = false;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] < 0 || stride[i] < 0) fail("negative tensor size or stride");
    if (size[i] == 0) empty = true;
    last += (size[i] - 1) * stride[i];
  }
  const torch::Tensor& storage = args[0]->tensor;
  if (offset < 0 || (!empty && last >= storage.numel())) fail("a tensor view runs past the end of its storage");

  auto tensor = make(Value::Kind::Tensor);
  tensor->tensor = empty ? torch::empty(size, storage.options()) : storage.as_strided(size, stride, offset);
  return tensor;
}

ValuePtr Unpickler::call(const ValuePtr& callable, const ValuePtr& args) {
  if (callable->kind != Value::Kind::Global || args->kind != Value::Kind::Tuple) fail("REDUCE on a non-callable");
  const Global& global = callable->global;
  if (global.module == "collections" && global.name == "OrderedDict") {
    if (!args->items.empty()) fail("OrderedDict built from arguments");
    return make(Value::Kind::Dict);
  }
  if (global.name == "_rebuild_tensor_v2") return rebuild_tensor(args->items);
  if (global.name == "_rebuild_parameter") {
    if (args->items.empty() || args->items[0]->kind != Value::Kind::Tensor) fail("malformed _rebuild_parameter arguments");
    return args->items[0];
  }
  fail("it calls \"" + global.full() + "\"");
}

ValuePtr Unpickler::run() {
  for (;;) {
    uint8_t opcode = *take(1);
    switch (opcode) {
      case 0x80: take(1); break;  // PROTO
      case 0x95: take(8); break;  // FRAME
      case '.': return pop();     // STOP
      case '(': stack_.push_back(make(Value::Kind::Mark)); break;
      case '0': pop(); break;  // POP
      case '1': pop_to_mark(); break;  // POP_MARK
      case '2': stack_.push_back(top()); break;  // DUP
      case 'N': stack_.push_back(make(Value::Kind::None)); break;
      case 0x88:
      case 0x89: {  // NEWTRUE, NEWFALSE
        auto value = make(Value::Kind::Bool);
        value->integer = opcode == 0x88;
        stack_.push_back(value);
        break;
      }
      case 'J':
      case 'K':
      case 'M': {  // BININT, BININT1, BININT2
        auto value = make(Value::Kind::Int);
        value->integer = opcode == 'J' ? static_cast<int32_t>(take_le(4)) : static_cast<int64_t>(take_le(opcode == 'K' ? 1 : 2));
        stack_.push_back(value);
        break;
      }
      case 0x8a: {  // LONG1: little-endian two's complement of n bytes
        size_t bytes = *take(1);
        if (bytes > 8) fail("integer wider than 64 bits");
        uint64_t raw = bytes ? take_le(static_cast<int>(bytes)) : 0;
        if (bytes > 0 && bytes < 8 && (raw >> (8 * bytes - 1)) & 1) raw |= ~uint64_t(0) << (8 * bytes);
        auto value = make(Value::Kind::Int);
        value->integer = static_cast<int64_t>(raw);
        stack_.push_back(value);
        break;
      }
      case 'G': {  // BINFLOAT, big-endian
        const uint8_t* p = take(8);
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
        auto value = make(Value::Kind::Float);
        std::memcpy(&value->real, &bits, 8);
        stack_.push_back(value);
        break;
      }
      case 'X':
      case 0x8c:
      case 'T':
      case 'U':
      case 'B':
      case 'C': {  // BINUNICODE, SHORT_BINUNICODE, BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES
        bool short_form = opcode == 0x8c || opcode == 'U' || opcode == 'C';
        auto value = make(Value::Kind::String);
        value->text = take_string(take_le(short_form ? 1 : 4));
        stack_.push_back(value);
        break;
      }
      case '}': stack_.push_back(make(Value::Kind::Dict)); break;
      case ']': stack_.push_back(make(Value::Kind::List)); break;
      case ')': stack_.push_back(make(Value::Kind::Tuple)); break;
      case 'd': {  // DICT
        auto items = pop_to_mark();
        auto dict = make(Value::Kind::Dict);
        set_items(dict, items);
        stack_.push_back(dict);
        break;
      }
      case 't':
      case 'l': {  // TUPLE, LIST
        auto value = make(opcode == 't' ? Value::Kind::Tuple : Value::Kind::List);
        value->items = pop_to_mark();
        stack_.push_back(value);
        break;
      }
      case 0x85:
      case 0x86:
      case 0x87: {  // TUPLE1..3
        size_t count = opcode - 0x84;
        if (stack_.size() < count) fail("stack underflow (corrupt pickle)");
        auto value = make(Value::Kind::Tuple);
        value->items.assign(stack_.end() - count, stack_.end());
        stack_.resize(stack_.size() - count);
        stack_.push_back(value);
        break;
      }
      case 'a': {  // APPEND
        auto item = pop();
        if (top()->kind != Value::Kind::List) fail("APPEND on something other than a list");
        top()->items.push_back(item);
        break;
      }
      case 'e': {  // APPENDS
        auto items = pop_to_mark();
        if (top()->kind != Value::Kind::List) fail("APPENDS on something other than a list");
        top()->items.insert(top()->items.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        auto value = pop();
        auto key = pop();
        set_items(top(), {key, value});
        break;
      }
      case 'u': {  // SETITEMS
        auto items = pop_to_mark();
        set_items(top(), items);
        break;
      }
      case 'q': memo_[take_le(1)] = top(); break;      // BINPUT
      case 'r': memo_[take_le(4)] = top(); break;      // LONG_BINPUT
      case 0x94: memo_[memo_.size()] = top(); break;   // MEMOIZE
      case 'h':
      case 'j': {  // BINGET, LONG_BINGET
        auto found = memo_.find(take_le(opcode == 'h' ? 1 : 4));
        if (found == memo_.end()) fail("memo entry missing (corrupt pickle)");
        stack_.push_back(found->second);
        break;
      }
      case 'c': {  // GLOBAL "module\nname\n"
        std::string module = take_line();
        std::string name = take_line();
        stack_.push_back(make_global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (module->kind != Value::Kind::String || name->kind != Value::Kind::String) fail("malformed STACK_GLOBAL");
        stack_.push_back(make_global(module->text, name->text));
        break;
      }
      case 'Q': stack_.push_back(load_storage(pop())); break;  // BINPERSID
      case 'R': {  // REDUCE
        auto args = pop();
        auto callable = pop();
        stack_.push_back(call(callable, args));
        break;
      }
      case 'b': {  // BUILD: only the attribute dict of an OrderedDict (torch's _metadata)
        auto state = pop();
        if (top()->kind != Value::Kind::Dict) fail("BUILD on an object that is not a dict");
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", opcode);
        fail("unsupported pickle opcode " + std::string(hex) + " at byte " + std::to_string(position_ - 1));
      }
    }
  }
}

// torch.save names every entry "<archive>/...": find the prefix through data.pkl.
std::string archive_prefix(const ZipArchive& archive, const std::string& file) {
  for (const auto& [name, entry] : archive.entries()) {
    const std::string suffix = "data.pkl";
    if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      std::string prefix = name.substr(0, name.size() - suffix.size());
      if (prefix.empty() || prefix.back() == '/') return prefix;
    }
  }
  throw Error(file + ": no data.pkl entry; this zip archive is not a torch.save checkpoint");
}

}  // namespace

TensorMap read_torch_bin(const std::filesystem::path& path) {
  const std::string file = path.string();
  ZipArchive archive(path);
  std::string prefix = archive_prefix(archive, file);

  // A big-endian checkpoint (torch.save records the byte order since 2.0) would need swapping.
  if (archive.contains(prefix + "byteorder") && archive.read(prefix + "byteorder") != "little") {
    throw Error(file + ": the checkpoint was saved on a big-endian machine; convert it to safetensors there");
  }

  Unpickler unpickler(archive, prefix, archive.read(prefix + "data.pkl"), file);
  ValuePtr root = unpickler.run();
  if (root->kind != Value::Kind::Dict) {
    throw Error(file + ": the pickle contains something other than a state dict (a dict of tensors)");
  }

  TensorMap tensors;
  for (const auto& [name, value] : root->dict) {
    if (value->kind != Value::Kind::Tensor) {
      throw Error(file + ": state dict entry \"" + name + "\" is not a tensor");
    }
    tensors[name] = value->tensor;
  }
  return tensors;
}

}  // namespace dualclip::io
