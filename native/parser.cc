// OnnxParser: fills a NetworkDefinition from an ONNX model (bytes or a file path) on a worker thread.
// Failures reject PARSE_ERROR with `parserErrors` (every IParserError: node, nodeName, opType, code, description,
// file, line, function).
#include "build_classes.h"

#if TN_HAVE_TENSORRT
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "compat.h"
#include "errors.h"
#include "loader.h"
#include "logger.h"

namespace tn::trt {

namespace {

const char* ParserCodeName(nvonnxparser::ErrorCode c) {
  static const char* const names[] = {"kSUCCESS",
                                      "kINTERNAL_ERROR",
                                      "kMEM_ALLOC_FAILED",
                                      "kMODEL_DESERIALIZE_FAILED",
                                      "kINVALID_VALUE",
                                      "kINVALID_GRAPH",
                                      "kINVALID_NODE",
                                      "kUNSUPPORTED_GRAPH",
                                      "kUNSUPPORTED_NODE",
                                      "kUNSUPPORTED_NODE_ATTR",
                                      "kUNSUPPORTED_NODE_INPUT",
                                      "kUNSUPPORTED_NODE_DATATYPE",
                                      "kUNSUPPORTED_NODE_DYNAMIC",
                                      "kUNSUPPORTED_NODE_SHAPE",
                                      "kREFIT_FAILED"};
  int i = static_cast<int>(c);
  if (i < 0 || i >= static_cast<int>(sizeof(names) / sizeof(names[0]))) return "kUNKNOWN";
  return names[i];
}

struct ParserErrorInfo {
  int node = -1;
  std::string nodeName, opType, code, description, file, function;
  int line = 0;
};

// A parse on a work thread (ONNX, UFF): keeps the parser, its network and the IBuilder alive, and counts them as in
// use until it ends: the parser and the network refuse JS calls meanwhile, the Builder refuses builds (defect #12).
template <typename Owner, typename Parser>
class ParseJob : public PromiseWorker {
 public:
  ParseJob(Napi::Env env, Owner* p, NetworkDefinition* n)
      : PromiseWorker(env),
        networkRecorder_(p->networkRecorder),
        builder_(p->builder),
        building_(p->building),
        network_(p->network),
        parser_(p->parser),
        owner_(p),
        net_(n) {
    keepParser_ = Napi::Persistent(p->Value());
    keepNetwork_ = Napi::Persistent(n->Value());
    ++owner_->busy;
    ++net_->busy;
    if (building_) ++*building_;
  }
  ~ParseJob() override {
    --owner_->busy;
    --net_->busy;
    if (building_) --*building_;
  }

 protected:
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

  // What the network reports to the Builder's recorder during this parse: a scope of its own (review 2, #10).
  std::shared_ptr<ErrorRecorder> networkRecorder_;
  std::shared_ptr<nvinfer1::IBuilder> builder_;  // the IBuilder must outlive the network
  std::shared_ptr<std::atomic<int>> building_;   // the Builder's: counts this parse
  std::shared_ptr<nvinfer1::INetworkDefinition> network_;
  std::shared_ptr<Parser> parser_;

 private:
  Owner* owner_;
  NetworkDefinition* net_;
  Napi::ObjectReference keepParser_, keepNetwork_;
};

class ParseWorker : public ParseJob<OnnxParser, nvonnxparser::IParser> {
 public:
  using ParseJob::ParseJob;

  std::vector<uint8_t> bytes;
  std::string path;

 protected:
  void Run() override {
    LogCapture capture;
    std::unique_ptr<ErrorRecorder::Scope> recorded;
    if (networkRecorder_) recorded = std::make_unique<ErrorRecorder::Scope>(*networkRecorder_, ErrorRecorder::Scope::kAnyThread);
    parser_->clearErrors();  // report this parse's errors only (the parser's own list: one parse at a time on it)
    bool ok;
    if (!path.empty()) {
      ok = parser_->parseFromFile(path.c_str(), static_cast<int>(nvinfer1::ILogger::Severity::kWARNING));
    } else {
      ok = parser_->parse(bytes.data(), bytes.size());
    }
    bytes.clear();
    bytes.shrink_to_fit();
    if (ok) return;
    std::string first;
    for (int i = 0; i < parser_->getNbErrors(); ++i) {
      const nvonnxparser::IParserError* e = parser_->getError(i);
      if (!e) continue;
      ParserErrorInfo pe;
      pe.node = e->node();
      pe.code = ParserCodeName(e->code());
      pe.description = e->desc() ? e->desc() : "";
      pe.file = e->file() ? e->file() : "";
      pe.line = e->line();
      pe.function = e->func() ? e->func() : "";
#if TN_HAS_PARSER_NODE_NAME
      pe.nodeName = e->nodeName() ? e->nodeName() : "";
      pe.opType = e->nodeOperator() ? e->nodeOperator() : "";
#endif
      if (first.empty()) {
        first = pe.code + ": " + pe.description;
        if (pe.node >= 0) {
          first += " (node " + std::to_string(pe.node);
          if (!pe.nodeName.empty()) first += " '" + pe.nodeName + "'";
          if (!pe.opType.empty()) first += ", " + pe.opType;
          first += ")";
        }
      }
      errors_.push_back(std::move(pe));
    }
    std::string logged = capture.Take();
    std::string network = recorded ? recorded->Take() : std::string();
    if (!network.empty() && logged.find(network) == std::string::npos) logged = network + (logged.empty() ? "" : "; " + logged);
    std::string msg = "ONNX parsing failed";
    if (!path.empty()) msg += " (" + path + ")";
    msg += ": ";
    if (!first.empty()) {
      msg += first;
      if (errors_.size() > 1) msg += " (and " + std::to_string(errors_.size() - 1) + " more, see parserErrors)";
    } else {
      msg += logged.empty() ? "the parser reported no details" : logged;
    }
    throw NativeError("PARSE_ERROR", msg);
  }

  void DecorateError(Napi::Env env, Napi::Object error) override {
    Napi::Array a = Napi::Array::New(env, errors_.size());
    for (size_t i = 0; i < errors_.size(); ++i) {
      const ParserErrorInfo& pe = errors_[i];
      Napi::Object o = Napi::Object::New(env);
      o.Set("node", Napi::Number::New(env, pe.node));
      if (!pe.nodeName.empty()) o.Set("nodeName", pe.nodeName);
      if (!pe.opType.empty()) o.Set("opType", pe.opType);
      o.Set("code", pe.code);
      o.Set("description", pe.description);
      if (!pe.file.empty()) o.Set("file", pe.file);
      if (pe.line > 0) o.Set("line", Napi::Number::New(env, pe.line));
      if (!pe.function.empty()) o.Set("function", pe.function);
      a.Set(static_cast<uint32_t>(i), o);
    }
    error.Set("parserErrors", a);
  }

 private:
  std::vector<ParserErrorInfo> errors_;
};

}  // namespace

Napi::Function OnnxParser::Init(Napi::Env env) {
  Napi::Function f = DefineClass(env, "OnnxParser",
                                 {
                                     InstanceMethod<&OnnxParser::Parse>("parse"),
                                     InstanceAccessor<&OnnxParser::GetDisposed>("disposed"),
                                     InstanceMethod<&OnnxParser::Dispose>("dispose"),
                                 });
  BuildCtorsFor(env).onnxParser = Napi::Persistent(f);
  return f;
}

// new OnnxParser(network)
OnnxParser::OnnxParser(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OnnxParser>(info) {
  Napi::Env env = info.Env();
  NetworkDefinition* n = NetworkDefinition::Unwrap(info[0]);
  if (!n) Throw(env, "INVALID_ARGUMENT", "OnnxParser expects a NetworkDefinition");
  nvinfer1::INetworkDefinition& net = n->Get(env, true);
  // The Builder's in-use count too (review 2, #11): not while a build or parse runs on any network of its Builder.
  RequireBuilderIdle(env, n->building, "new OnnxParser()");
  Guard(env, [&] { parser = Share(CreateOnnxParser(net)); });
  networkRecorder = n->recorder;
  builder = n->builder;
  building = n->building;
  network = n->network;
  n->parsers.push_back(parser);  // the parser owns weights the network uses until it is built
  networkRef = Napi::Persistent(n->Value());
}

// parse(data: Uint8Array | string path) -> Promise<void>
Napi::Value OnnxParser::Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!parser) ThrowDisposed(env, "OnnxParser");
  if (busy.load() > 0) Throw(env, "INVALID_ARGUMENT", "a parse is already in progress on this OnnxParser");
  NetworkDefinition* n = NetworkDefinition::Unwrap(networkRef.Value());
  if (!n || !n->network) ThrowDisposed(env, "NetworkDefinition");
  n->Get(env, true);
  RequireBuilderIdle(env, building, "OnnxParser.parse");  // review 2, #11
  auto* w = new ParseWorker(env, this, n);
  if (info[0].IsString()) {
    w->path = info[0].As<Napi::String>().Utf8Value();
  } else if (info[0].IsTypedArray()) {
    Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
    const uint8_t* p = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    w->bytes.assign(p, p + ta.ByteLength());
  } else {
    delete w;
    Throw(env, "INVALID_ARGUMENT", "parse expects a Uint8Array (ONNX model bytes) or a file path");
  }
  if (w->path.empty() && w->bytes.empty()) {
    delete w;
    Throw(env, "INVALID_ARGUMENT", "parse: the model is empty");
  }
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value OnnxParser::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !parser); }

Napi::Value OnnxParser::Dispose(const Napi::CallbackInfo& info) {
  parser.reset();  // a parse in flight keeps its own reference; the network keeps one until it is disposed
  network.reset();
  networkRecorder.reset();
  builder.reset();
  networkRef.Reset();
  return info.Env().Undefined();
}

#if TN_HAS_UFF
// ---- UFF (TensorRT <= 8.6) ---------------------------------------------------------------------------------------

namespace {

using UffFactory = void* (*)();

class UffParseWorker : public ParseJob<UffParser, nvuffparser::IUffParser> {
 public:
  UffParseWorker(Napi::Env env, UffParser* p, NetworkDefinition* n) : ParseJob(env, p, n), recorder_(p->recorder) {}

  std::string path;
  nvinfer1::DataType weights = nvinfer1::DataType::kFLOAT;

 protected:
  void Run() override {
    LogCapture capture;
    // This parse's messages (review 2, #10): the parser's own recorder (one parse at a time on a parser) and what
    // the network reports to the Builder's recorder meanwhile, each in a scope (no clear() of a shared recorder).
    ErrorRecorder::Scope own(*recorder_, ErrorRecorder::Scope::kAnyThread);
    std::unique_ptr<ErrorRecorder::Scope> net;
    if (networkRecorder_) net = std::make_unique<ErrorRecorder::Scope>(*networkRecorder_, ErrorRecorder::Scope::kAnyThread);
    if (parser_->parse(path.c_str(), *network_, weights)) return;
    std::string why = own.Take();
    std::string more = net ? net->Take() : std::string();
    if (!more.empty() && why.find(more) == std::string::npos) why += (why.empty() ? "" : "; ") + more;
    std::string logged = capture.Take();
    if (!logged.empty() && why.find(logged) == std::string::npos) why += (why.empty() ? "" : "; ") + logged;
    throw NativeError("PARSE_ERROR",
                      "UFF parsing failed (" + path + "): " + (why.empty() ? std::string("the parser reported no details") : why));
  }
 private:
  std::shared_ptr<ErrorRecorder> recorder_;
};

}  // namespace

Napi::Function UffParser::Init(Napi::Env env) {
  return DefineClass(env, "UffParser",
                     {
                         InstanceMethod<&UffParser::RegisterInput>("registerInput"),
                         InstanceMethod<&UffParser::RegisterOutput>("registerOutput"),
                         InstanceMethod<&UffParser::Parse>("parse"),
                         InstanceAccessor<&UffParser::GetDisposed>("disposed"),
                         InstanceMethod<&UffParser::Dispose>("dispose"),
                     });
}

// new UffParser(network)
UffParser::UffParser(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UffParser>(info) {
  Napi::Env env = info.Env();
  NetworkDefinition* n = NetworkDefinition::Unwrap(info[0]);
  if (!n) Throw(env, "INVALID_ARGUMENT", "UffParser expects a NetworkDefinition");
  n->Get(env, true);
  RequireBuilderIdle(env, n->building, "new UffParser()");  // review 2, #11
  std::string why;
  auto create = reinterpret_cast<UffFactory>(ResolveOptional("libnvparsers", "createNvUffParser_INTERNAL", &why));
  if (!create) Throw(env, "TENSORRT_UNAVAILABLE", "the UFF parser cannot be loaded: " + why);
  void* p = create();
  if (!p) Throw(env, "TENSORRT_ERROR", "createNvUffParser returned null");
  parser = Share(static_cast<nvuffparser::IUffParser*>(p));
  // The parser's own recorder, not the Builder's: a parse's clear-and-read never touches a build's messages (#10).
  recorder = std::make_shared<ErrorRecorder>();
  parser->setErrorRecorder(recorder.get());
  networkRecorder = n->recorder;
  builder = n->builder;
  building = n->building;
  network = n->network;
  // The parser owns weights the network uses until it is built; held with its recorder, which must outlive it
  // (a pair destroys `second`, the parser, first).
  n->parsers.push_back(std::make_shared<std::pair<std::shared_ptr<ErrorRecorder>, std::shared_ptr<nvuffparser::IUffParser>>>(
      recorder, parser));
  networkRef = Napi::Persistent(n->Value());
}

// registerInput(name, dims, order: 'nchw' | 'nhwc' | 'nc')
Napi::Value UffParser::RegisterInput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!parser) ThrowDisposed(env, "UffParser");
  if (!info[0].IsString()) Throw(env, "INVALID_ARGUMENT", "registerInput: name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  nvinfer1::Dims dims = DimsFromArray(env, info[1], "registerInput: dims");
  std::string order = info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "nchw";
  nvuffparser::UffInputOrder o;
  if (order == "nchw") {
    o = nvuffparser::UffInputOrder::kNCHW;
  } else if (order == "nhwc") {
    o = nvuffparser::UffInputOrder::kNHWC;
  } else if (order == "nc") {
    o = nvuffparser::UffInputOrder::kNC;
  } else {
    Throw(env, "INVALID_ARGUMENT", "registerInput: order must be 'nchw', 'nhwc' or 'nc'");
  }
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  Guard(env, [&] {
    if (!parser->registerInput(name.c_str(), dims, o)) {
      ThrowTrt("INVALID_ARGUMENT", "registerInput('" + name + "') was refused", &scope);
    }
  });
  return env.Undefined();
}

Napi::Value UffParser::RegisterOutput(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!parser) ThrowDisposed(env, "UffParser");
  if (!info[0].IsString()) Throw(env, "INVALID_ARGUMENT", "registerOutput: name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  ErrorRecorder::Scope scope(*recorder, ErrorRecorder::Scope::kThisThread);
  Guard(env, [&] {
    if (!parser->registerOutput(name.c_str())) {
      ThrowTrt("INVALID_ARGUMENT", "registerOutput('" + name + "') was refused", &scope);
    }
  });
  return env.Undefined();
}

// parse(path, weightsType?: 'float32' | 'float16') -> Promise<void>
Napi::Value UffParser::Parse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!parser) ThrowDisposed(env, "UffParser");
  if (busy.load() > 0) Throw(env, "INVALID_ARGUMENT", "a parse is already in progress on this UffParser");
  if (!info[0].IsString()) Throw(env, "INVALID_ARGUMENT", "UffParser.parse expects a file path");
  nvinfer1::DataType weights = nvinfer1::DataType::kFLOAT;
  if (info[1].IsString() && !DataTypeFromName(info[1].As<Napi::String>().Utf8Value(), &weights)) {
    Throw(env, "INVALID_ARGUMENT", "UffParser.parse: unknown weights type");
  }
  NetworkDefinition* n = NetworkDefinition::Unwrap(networkRef.Value());
  if (!n || !n->network) ThrowDisposed(env, "NetworkDefinition");
  n->Get(env, true);
  RequireBuilderIdle(env, building, "UffParser.parse");  // review 2, #11
  auto* w = new UffParseWorker(env, this, n);
  w->path = info[0].As<Napi::String>().Utf8Value();
  w->weights = weights;
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

Napi::Value UffParser::GetDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !parser); }

Napi::Value UffParser::Dispose(const Napi::CallbackInfo& info) {
  parser.reset();
  network.reset();
  networkRecorder.reset();
  builder.reset();
  networkRef.Reset();
  return info.Env().Undefined();
}
#endif  // TN_HAS_UFF

}  // namespace tn::trt

#endif  // TN_HAVE_TENSORRT
