// TensorRT version differences, turned into feature macros and tables. The ONLY file of the addon that branches
// on NV_TENSORRT_MAJOR / NV_TENSORRT_MINOR (or on what the headers declare); every other file tests the TN_HAS_*
// macros below or reads the tables, and runtimeInfo().features reports the same facts to JS.
//
// Two kinds of checks:
//  - whole interfaces that appeared / disappeared with a major version (IProgressMonitor: 10+, implicit INT8
//    calibration: <= 10, UFF: <= 8.6) use the version macros;
//  - enumerators (BuilderFlag, MemoryPoolType, DataType, ...) are detected from the headers themselves with
//    SFINAE, so that a minor version that added or removed one needs no edit here.
// Without TensorRT headers (TN_HAVE_TENSORRT=0) every TN_HAS_* is 0.
#pragma once

#include <cstdint>
#include <type_traits>

#ifndef TN_HAVE_TENSORRT
#define TN_HAVE_TENSORRT 0
#endif
// 1 only in the contract-test addon (scripts/contract/build.sh): test doubles of our own contracts, never shipped.
#ifndef TN_CONTRACT_TESTS
#define TN_CONTRACT_TESTS 0
#endif

// Deprecated TensorRT APIs that we still call on purpose (kFP16 and IInt8Calibrator in 10.x, platformHasFastFp16...).
#define TN_ALLOW_DEPRECATED_BEGIN \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wdeprecated-declarations\"")
#define TN_ALLOW_DEPRECATED_END _Pragma("GCC diagnostic pop")

#if TN_HAVE_TENSORRT
#include <NvInfer.h>

#define TN_TRT_AT_LEAST(maj, min) \
  (NV_TENSORRT_MAJOR > (maj) || (NV_TENSORRT_MAJOR == (maj) && NV_TENSORRT_MINOR >= (min)))

#define TN_STRINGIFY2(x) #x
#define TN_STRINGIFY(x) TN_STRINGIFY2(x)
// "10.16.0": the compiled headers' version, for messages.
#define TN_TRT_VERSION_STRING \
  TN_STRINGIFY(NV_TENSORRT_MAJOR) "." TN_STRINGIFY(NV_TENSORRT_MINOR) "." TN_STRINGIFY(NV_TENSORRT_PATCH)

// getInferLibVersion() encoding of the compiled version: 8.x: major*1000+minor*100+patch; 10+: major*10000+...
#define TN_TRT_MAJOR NV_TENSORRT_MAJOR

// Implicit (calibration-based) INT8: IInt8Calibrator & co, BuilderFlag::kINT8 / kFP16. Removed in TensorRT 11,
// where INT8 means explicit quantization (Q/DQ) in strongly typed networks.
#define TN_HAS_IMPLICIT_INT8 (NV_TENSORRT_MAJOR <= 10)
// IProgressMonitor / IBuilderConfig::setProgressMonitor: TensorRT 10.0+.
#define TN_HAS_PROGRESS_MONITOR (NV_TENSORRT_MAJOR >= 10)
// IBuilder::platformHasFastFp16 / platformHasFastInt8 / platformHasTf32: up to 10 (deprecated there), gone in 11.
#define TN_HAS_PLATFORM_CAPS (NV_TENSORRT_MAJOR <= 10)
// Strongly typed networks (NetworkDefinitionCreationFlag::kSTRONGLY_TYPED) exist from 10.0; in 11 every network is
// strongly typed (the flag is deprecated and ignored).
#define TN_HAS_STRONGLY_TYPED (NV_TENSORRT_MAJOR >= 10)
#define TN_ALWAYS_STRONGLY_TYPED (NV_TENSORRT_MAJOR >= 11)
// Before 10, networks had to be created with kEXPLICIT_BATCH (implicit batch mode existed).
#define TN_NEEDS_EXPLICIT_BATCH_FLAG (NV_TENSORRT_MAJOR < 10)
// builderOptimizationLevel, hardwareCompatibilityLevel, maxAuxStreams, version compatibility: 8.6+.
#define TN_HAS_OPTIMIZATION_LEVEL TN_TRT_AT_LEAST(8, 6)
// Weight streaming (BuilderFlag::kWEIGHT_STREAMING): 10.0+.
#define TN_HAS_WEIGHT_STREAMING (NV_TENSORRT_MAJOR >= 10)
// Before 10, TensorRT objects were released with destroy() (deprecated) or delete (8.x: both work).
// IParser::parseFromFile and IParser::parse exist in every supported version; IParserError::nodeName from 10.0.
#define TN_HAS_PARSER_NODE_NAME (NV_TENSORRT_MAJOR >= 10)
// getInferLibVersion() encoding changed with 10.0 (8.x: M*1000 + m*100 + p).
#define TN_LIB_VERSION_WIDE (NV_TENSORRT_MAJOR >= 10)

// ILayer::setPrecision / getPrecision / precisionIsSet: up to 10 (deprecated there); strongly typed 11 has none.
#define TN_HAS_LAYER_PRECISION (NV_TENSORRT_MAJOR <= 10)

// UFF (NvUffParser.h): shipped up to TensorRT 8.6 only.
#if defined(__has_include)
#if __has_include(<NvUffParser.h>) && NV_TENSORRT_MAJOR <= 8
#define TN_HAS_UFF 1
#endif
#endif
#ifndef TN_HAS_UFF
#define TN_HAS_UFF 0
#endif

namespace tn::compat {

// ---- enumerator detection --------------------------------------------------------------------------------------
// TN_DETECT_ENUM(Enum, kNAME) defines compat::Enum_kNAME() returning the enumerator's value as int, or -1 when the
// compiled headers do not declare it. Deprecated enumerators are fine (warning suppressed).
#define TN_DETECT_ENUM(Enum, Name)                                                            \
  template <typename E, typename = void>                                                     \
  struct Has_##Enum##_##Name : std::false_type {};                                           \
  template <typename E>                                                                      \
  struct Has_##Enum##_##Name<E, std::void_t<decltype(E::Name)>> : std::true_type {};        \
  template <typename E = nvinfer1::Enum>                                                     \
  constexpr int Enum##_##Name() {                                                            \
    if constexpr (Has_##Enum##_##Name<E>::value) {                                           \
      return static_cast<int>(E::Name);                                                      \
    } else {                                                                                 \
      return -1;                                                                             \
    }                                                                                        \
  }

struct EnumName {
  const char* name;  // camelCase JS name
  int value;         // -1: absent in the compiled version
};

TN_ALLOW_DEPRECATED_BEGIN
// BuilderFlag
TN_DETECT_ENUM(BuilderFlag, kFP16)
TN_DETECT_ENUM(BuilderFlag, kINT8)
TN_DETECT_ENUM(BuilderFlag, kDEBUG)
TN_DETECT_ENUM(BuilderFlag, kGPU_FALLBACK)
TN_DETECT_ENUM(BuilderFlag, kREFIT)
TN_DETECT_ENUM(BuilderFlag, kDISABLE_TIMING_CACHE)
TN_DETECT_ENUM(BuilderFlag, kTF32)
TN_DETECT_ENUM(BuilderFlag, kSPARSE_WEIGHTS)
TN_DETECT_ENUM(BuilderFlag, kSAFETY_SCOPE)
TN_DETECT_ENUM(BuilderFlag, kOBEY_PRECISION_CONSTRAINTS)
TN_DETECT_ENUM(BuilderFlag, kPREFER_PRECISION_CONSTRAINTS)
TN_DETECT_ENUM(BuilderFlag, kDIRECT_IO)
TN_DETECT_ENUM(BuilderFlag, kREJECT_EMPTY_ALGORITHMS)
TN_DETECT_ENUM(BuilderFlag, kENABLE_TACTIC_HEURISTIC)
TN_DETECT_ENUM(BuilderFlag, kVERSION_COMPATIBLE)
TN_DETECT_ENUM(BuilderFlag, kEXCLUDE_LEAN_RUNTIME)
TN_DETECT_ENUM(BuilderFlag, kFP8)
TN_DETECT_ENUM(BuilderFlag, kERROR_ON_TIMING_CACHE_MISS)
TN_DETECT_ENUM(BuilderFlag, kBF16)
TN_DETECT_ENUM(BuilderFlag, kDISABLE_COMPILATION_CACHE)
TN_DETECT_ENUM(BuilderFlag, kSTRIP_PLAN)
TN_DETECT_ENUM(BuilderFlag, kREFIT_IDENTICAL)
TN_DETECT_ENUM(BuilderFlag, kWEIGHT_STREAMING)
TN_DETECT_ENUM(BuilderFlag, kINT4)
TN_DETECT_ENUM(BuilderFlag, kREFIT_INDIVIDUAL)
TN_DETECT_ENUM(BuilderFlag, kSTRICT_NANS)
TN_DETECT_ENUM(BuilderFlag, kMONITOR_MEMORY)
TN_DETECT_ENUM(BuilderFlag, kFP4)
TN_DETECT_ENUM(BuilderFlag, kEDITABLE_TIMING_CACHE)
TN_DETECT_ENUM(BuilderFlag, kDISTRIBUTIVE_INDEPENDENCE)
// MemoryPoolType
TN_DETECT_ENUM(MemoryPoolType, kWORKSPACE)
TN_DETECT_ENUM(MemoryPoolType, kDLA_MANAGED_SRAM)
TN_DETECT_ENUM(MemoryPoolType, kDLA_LOCAL_DRAM)
TN_DETECT_ENUM(MemoryPoolType, kDLA_GLOBAL_DRAM)
TN_DETECT_ENUM(MemoryPoolType, kTACTIC_DRAM)
TN_DETECT_ENUM(MemoryPoolType, kTACTIC_SHARED_MEMORY)
// DataType
TN_DETECT_ENUM(DataType, kBF16)
TN_DETECT_ENUM(DataType, kINT64)
TN_DETECT_ENUM(DataType, kINT4)
TN_DETECT_ENUM(DataType, kFP4)
TN_DETECT_ENUM(DataType, kE8M0)
TN_DETECT_ENUM(DataType, kFP8)
// HardwareCompatibilityLevel
TN_DETECT_ENUM(HardwareCompatibilityLevel, kNONE)
TN_DETECT_ENUM(HardwareCompatibilityLevel, kAMPERE_PLUS)
TN_DETECT_ENUM(HardwareCompatibilityLevel, kSAME_COMPUTE_CAPABILITY)
// NetworkDefinitionCreationFlag
TN_DETECT_ENUM(NetworkDefinitionCreationFlag, kEXPLICIT_BATCH)
TN_DETECT_ENUM(NetworkDefinitionCreationFlag, kSTRONGLY_TYPED)
TN_ALLOW_DEPRECATED_END

// Every BuilderFlag of the compiled headers, camelCase (value -1: not in this version; skip those).
inline const EnumName* BuilderFlags(int* count) {
  static const EnumName table[] = {
      {"fp16", BuilderFlag_kFP16()},
      {"int8", BuilderFlag_kINT8()},
      {"debug", BuilderFlag_kDEBUG()},
      {"gpuFallback", BuilderFlag_kGPU_FALLBACK()},
      {"refit", BuilderFlag_kREFIT()},
      {"disableTimingCache", BuilderFlag_kDISABLE_TIMING_CACHE()},
      {"tf32", BuilderFlag_kTF32()},
      {"sparseWeights", BuilderFlag_kSPARSE_WEIGHTS()},
      {"safetyScope", BuilderFlag_kSAFETY_SCOPE()},
      {"obeyPrecisionConstraints", BuilderFlag_kOBEY_PRECISION_CONSTRAINTS()},
      {"preferPrecisionConstraints", BuilderFlag_kPREFER_PRECISION_CONSTRAINTS()},
      {"directIo", BuilderFlag_kDIRECT_IO()},
      {"rejectEmptyAlgorithms", BuilderFlag_kREJECT_EMPTY_ALGORITHMS()},
      {"enableTacticHeuristic", BuilderFlag_kENABLE_TACTIC_HEURISTIC()},
      {"versionCompatible", BuilderFlag_kVERSION_COMPATIBLE()},
      {"excludeLeanRuntime", BuilderFlag_kEXCLUDE_LEAN_RUNTIME()},
      {"fp8", BuilderFlag_kFP8()},
      {"errorOnTimingCacheMiss", BuilderFlag_kERROR_ON_TIMING_CACHE_MISS()},
      {"bf16", BuilderFlag_kBF16()},
      {"disableCompilationCache", BuilderFlag_kDISABLE_COMPILATION_CACHE()},
      {"stripPlan", BuilderFlag_kSTRIP_PLAN()},
      {"refitIdentical", BuilderFlag_kREFIT_IDENTICAL()},
      {"weightStreaming", BuilderFlag_kWEIGHT_STREAMING()},
      {"int4", BuilderFlag_kINT4()},
      {"refitIndividual", BuilderFlag_kREFIT_INDIVIDUAL()},
      {"strictNans", BuilderFlag_kSTRICT_NANS()},
      {"monitorMemory", BuilderFlag_kMONITOR_MEMORY()},
      {"fp4", BuilderFlag_kFP4()},
      {"editableTimingCache", BuilderFlag_kEDITABLE_TIMING_CACHE()},
      {"distributiveIndependence", BuilderFlag_kDISTRIBUTIVE_INDEPENDENCE()},
  };
  *count = static_cast<int>(sizeof(table) / sizeof(table[0]));
  return table;
}

// Every MemoryPoolType of the compiled headers, camelCase.
inline const EnumName* MemoryPools(int* count) {
  static const EnumName table[] = {
      {"workspace", MemoryPoolType_kWORKSPACE()},
      {"dlaManagedSram", MemoryPoolType_kDLA_MANAGED_SRAM()},
      {"dlaLocalDram", MemoryPoolType_kDLA_LOCAL_DRAM()},
      {"dlaGlobalDram", MemoryPoolType_kDLA_GLOBAL_DRAM()},
      {"tacticDram", MemoryPoolType_kTACTIC_DRAM()},
      {"tacticSharedMemory", MemoryPoolType_kTACTIC_SHARED_MEMORY()},
  };
  *count = static_cast<int>(sizeof(table) / sizeof(table[0]));
  return table;
}

// HardwareCompatibilityLevel values, camelCase ('none', 'amperePlus', 'sameComputeCapability').
inline const EnumName* HardwareCompatibilityLevels(int* count) {
  static const EnumName table[] = {
      {"none", HardwareCompatibilityLevel_kNONE()},
      {"amperePlus", HardwareCompatibilityLevel_kAMPERE_PLUS()},
      {"sameComputeCapability", HardwareCompatibilityLevel_kSAME_COMPUTE_CAPABILITY()},
  };
  *count = static_cast<int>(sizeof(table) / sizeof(table[0]));
  return table;
}

// Looks `name` up in a table; -1 when absent (or absent in this version).
inline int Lookup(const EnumName* t, int n, const char* name) {
  for (int i = 0; i < n; ++i) {
    const char* a = t[i].name;
    const char* b = name;
    while (*a && *a == *b) ++a, ++b;
    if (*a == 0 && *b == 0) return t[i].value;
  }
  return -1;
}


// LayerType, camelCase ('convolution', 'matrixMultiply', ...); every enumerator of 8.6 .. 11.x.
TN_ALLOW_DEPRECATED_BEGIN
TN_DETECT_ENUM(LayerType, kACTIVATION)
TN_DETECT_ENUM(LayerType, kASSERTION)
TN_DETECT_ENUM(LayerType, kATTENTION_INPUT)
TN_DETECT_ENUM(LayerType, kATTENTION_OUTPUT)
TN_DETECT_ENUM(LayerType, kCAST)
TN_DETECT_ENUM(LayerType, kCONCATENATION)
TN_DETECT_ENUM(LayerType, kCONDITION)
TN_DETECT_ENUM(LayerType, kCONDITIONAL_INPUT)
TN_DETECT_ENUM(LayerType, kCONDITIONAL_OUTPUT)
TN_DETECT_ENUM(LayerType, kCONSTANT)
TN_DETECT_ENUM(LayerType, kCONVOLUTION)
TN_DETECT_ENUM(LayerType, kCUMULATIVE)
TN_DETECT_ENUM(LayerType, kDECONVOLUTION)
TN_DETECT_ENUM(LayerType, kDEQUANTIZE)
TN_DETECT_ENUM(LayerType, kDIST_COLLECTIVE)
TN_DETECT_ENUM(LayerType, kDYNAMIC_QUANTIZE)
TN_DETECT_ENUM(LayerType, kEINSUM)
TN_DETECT_ENUM(LayerType, kELEMENTWISE)
TN_DETECT_ENUM(LayerType, kFILL)
TN_DETECT_ENUM(LayerType, kFULLY_CONNECTED)
TN_DETECT_ENUM(LayerType, kGATHER)
TN_DETECT_ENUM(LayerType, kGRID_SAMPLE)
TN_DETECT_ENUM(LayerType, kIDENTITY)
TN_DETECT_ENUM(LayerType, kITERATOR)
TN_DETECT_ENUM(LayerType, kKVCACHE_UPDATE)
TN_DETECT_ENUM(LayerType, kLOOP_OUTPUT)
TN_DETECT_ENUM(LayerType, kLRN)
TN_DETECT_ENUM(LayerType, kMATRIX_MULTIPLY)
TN_DETECT_ENUM(LayerType, kMOE)
TN_DETECT_ENUM(LayerType, kNMS)
TN_DETECT_ENUM(LayerType, kNON_ZERO)
TN_DETECT_ENUM(LayerType, kNORMALIZATION)
TN_DETECT_ENUM(LayerType, kONE_HOT)
TN_DETECT_ENUM(LayerType, kPADDING)
TN_DETECT_ENUM(LayerType, kPARAMETRIC_RELU)
TN_DETECT_ENUM(LayerType, kPLUGIN)
TN_DETECT_ENUM(LayerType, kPLUGIN_V2)
TN_DETECT_ENUM(LayerType, kPLUGIN_V3)
TN_DETECT_ENUM(LayerType, kPOOLING)
TN_DETECT_ENUM(LayerType, kQUANTIZE)
TN_DETECT_ENUM(LayerType, kRAGGED_SOFTMAX)
TN_DETECT_ENUM(LayerType, kRECURRENCE)
TN_DETECT_ENUM(LayerType, kREDUCE)
TN_DETECT_ENUM(LayerType, kRESIZE)
TN_DETECT_ENUM(LayerType, kREVERSE_SEQUENCE)
TN_DETECT_ENUM(LayerType, kRNN_V2)
TN_DETECT_ENUM(LayerType, kROTARY_EMBEDDING)
TN_DETECT_ENUM(LayerType, kSCALE)
TN_DETECT_ENUM(LayerType, kSCATTER)
TN_DETECT_ENUM(LayerType, kSELECT)
TN_DETECT_ENUM(LayerType, kSHAPE)
TN_DETECT_ENUM(LayerType, kSHUFFLE)
TN_DETECT_ENUM(LayerType, kSLICE)
TN_DETECT_ENUM(LayerType, kSOFTMAX)
TN_DETECT_ENUM(LayerType, kSQUEEZE)
TN_DETECT_ENUM(LayerType, kTOPK)
TN_DETECT_ENUM(LayerType, kTRIP_LIMIT)
TN_DETECT_ENUM(LayerType, kUNARY)
TN_DETECT_ENUM(LayerType, kUNSQUEEZE)
TN_ALLOW_DEPRECATED_END

inline const EnumName* LayerTypes(int* count) {
  static const EnumName table[] = {
      {"activation", LayerType_kACTIVATION()},
      {"assertion", LayerType_kASSERTION()},
      {"attentionInput", LayerType_kATTENTION_INPUT()},
      {"attentionOutput", LayerType_kATTENTION_OUTPUT()},
      {"cast", LayerType_kCAST()},
      {"concatenation", LayerType_kCONCATENATION()},
      {"condition", LayerType_kCONDITION()},
      {"conditionalInput", LayerType_kCONDITIONAL_INPUT()},
      {"conditionalOutput", LayerType_kCONDITIONAL_OUTPUT()},
      {"constant", LayerType_kCONSTANT()},
      {"convolution", LayerType_kCONVOLUTION()},
      {"cumulative", LayerType_kCUMULATIVE()},
      {"deconvolution", LayerType_kDECONVOLUTION()},
      {"dequantize", LayerType_kDEQUANTIZE()},
      {"distCollective", LayerType_kDIST_COLLECTIVE()},
      {"dynamicQuantize", LayerType_kDYNAMIC_QUANTIZE()},
      {"einsum", LayerType_kEINSUM()},
      {"elementwise", LayerType_kELEMENTWISE()},
      {"fill", LayerType_kFILL()},
      {"fullyConnected", LayerType_kFULLY_CONNECTED()},
      {"gather", LayerType_kGATHER()},
      {"gridSample", LayerType_kGRID_SAMPLE()},
      {"identity", LayerType_kIDENTITY()},
      {"iterator", LayerType_kITERATOR()},
      {"kvcacheUpdate", LayerType_kKVCACHE_UPDATE()},
      {"loopOutput", LayerType_kLOOP_OUTPUT()},
      {"lrn", LayerType_kLRN()},
      {"matrixMultiply", LayerType_kMATRIX_MULTIPLY()},
      {"moe", LayerType_kMOE()},
      {"nms", LayerType_kNMS()},
      {"nonZero", LayerType_kNON_ZERO()},
      {"normalization", LayerType_kNORMALIZATION()},
      {"oneHot", LayerType_kONE_HOT()},
      {"padding", LayerType_kPADDING()},
      {"parametricRelu", LayerType_kPARAMETRIC_RELU()},
      {"plugin", LayerType_kPLUGIN()},
      {"pluginV2", LayerType_kPLUGIN_V2()},
      {"pluginV3", LayerType_kPLUGIN_V3()},
      {"pooling", LayerType_kPOOLING()},
      {"quantize", LayerType_kQUANTIZE()},
      {"raggedSoftmax", LayerType_kRAGGED_SOFTMAX()},
      {"recurrence", LayerType_kRECURRENCE()},
      {"reduce", LayerType_kREDUCE()},
      {"resize", LayerType_kRESIZE()},
      {"reverseSequence", LayerType_kREVERSE_SEQUENCE()},
      {"rnnV2", LayerType_kRNN_V2()},
      {"rotaryEmbedding", LayerType_kROTARY_EMBEDDING()},
      {"scale", LayerType_kSCALE()},
      {"scatter", LayerType_kSCATTER()},
      {"select", LayerType_kSELECT()},
      {"shape", LayerType_kSHAPE()},
      {"shuffle", LayerType_kSHUFFLE()},
      {"slice", LayerType_kSLICE()},
      {"softmax", LayerType_kSOFTMAX()},
      {"squeeze", LayerType_kSQUEEZE()},
      {"topk", LayerType_kTOPK()},
      {"tripLimit", LayerType_kTRIP_LIMIT()},
      {"unary", LayerType_kUNARY()},
      {"unsqueeze", LayerType_kUNSQUEEZE()},
  };
  *count = static_cast<int>(sizeof(table) / sizeof(table[0]));
  return table;
}

// The camelCase name of a value of an enum table, or nullptr.
inline const char* NameOf(const EnumName* t, int n, int value) {
  for (int i = 0; i < n; ++i) {
    if (t[i].value >= 0 && t[i].value == value) return t[i].name;
  }
  return nullptr;
}

// IBuilderConfig::setMaxAuxStreams returns void up to 10.x and bool (accepted or not) from 11.
template <typename Config>
bool SetMaxAuxStreams(Config& c, int32_t n) {
  if constexpr (std::is_same_v<decltype(c.setMaxAuxStreams(n)), bool>) {
    return c.setMaxAuxStreams(n);
  } else {
    c.setMaxAuxStreams(n);
    return true;
  }
}

// Creation flags of INetworkDefinition for {stronglyTyped}.
inline uint32_t NetworkCreationFlags(bool stronglyTyped) {
  uint32_t flags = 0;
  constexpr int kExplicitBatch = NetworkDefinitionCreationFlag_kEXPLICIT_BATCH();
  constexpr int kStronglyTyped = NetworkDefinitionCreationFlag_kSTRONGLY_TYPED();
  if constexpr (kExplicitBatch >= 0 && TN_NEEDS_EXPLICIT_BATCH_FLAG) flags |= 1U << (kExplicitBatch & 31);
  if constexpr (kStronglyTyped >= 0 && !TN_ALWAYS_STRONGLY_TYPED) {
    if (stronglyTyped) flags |= 1U << (kStronglyTyped & 31);
  } else {
    (void)stronglyTyped;
  }
  return flags;
}

// ---- RUN side (runtime.cc / engine.cc / context.cc): member functions detected in the headers -----------------
// Templates on the TensorRT class, so that only the branch the compiled headers support is instantiated.
TN_ALLOW_DEPRECATED_BEGIN
template <typename E, typename = void>
struct HasDeviceMemorySizeV2 : std::false_type {};  // ICudaEngine::getDeviceMemorySizeV2 (10.1+)
template <typename E>
struct HasDeviceMemorySizeV2<E, std::void_t<decltype(std::declval<const E&>().getDeviceMemorySizeV2())>>
    : std::true_type {};
template <typename E, typename = void>
struct HasDeviceMemorySizeForProfileV2 : std::false_type {};  // getDeviceMemorySizeForProfileV2 (10.1+)
template <typename E>
struct HasDeviceMemorySizeForProfileV2<
    E, std::void_t<decltype(std::declval<const E&>().getDeviceMemorySizeForProfileV2(0))>> : std::true_type {};
template <typename E, typename = void>
struct HasDeviceMemorySizeForProfile : std::false_type {};  // getDeviceMemorySizeForProfile (10.0; gone in 11)
template <typename E>
struct HasDeviceMemorySizeForProfile<
    E, std::void_t<decltype(std::declval<const E&>().getDeviceMemorySizeForProfile(0))>> : std::true_type {};
template <typename E, typename = void>
struct HasProfileTensorValuesV2 : std::false_type {};  // int64_t values (10.11+)
template <typename E>
struct HasProfileTensorValuesV2<E, std::void_t<decltype(std::declval<const E&>().getProfileTensorValuesV2(
                                       "", 0, nvinfer1::OptProfileSelector::kMIN))>> : std::true_type {};
template <typename E, typename = void>
struct HasProfileTensorValues : std::false_type {};  // int32_t values (10.0 .. 10.x; 8.x: getProfileShapeValues)
template <typename E>
struct HasProfileTensorValues<E, std::void_t<decltype(std::declval<const E&>().getProfileTensorValues(
                                     "", 0, nvinfer1::OptProfileSelector::kMIN))>> : std::true_type {};

// Scratch device memory an execution context of the engine needs (ICudaEngine::getDeviceMemorySize[V2]).
template <typename E = nvinfer1::ICudaEngine>
int64_t EngineDeviceMemorySize(const E& e) {
  if constexpr (HasDeviceMemorySizeV2<E>::value) {
    return static_cast<int64_t>(e.getDeviceMemorySizeV2());
  } else {
    return static_cast<int64_t>(e.getDeviceMemorySize());
  }
}

// The same for one optimization profile; -1 when the compiled TensorRT cannot tell.
template <typename E = nvinfer1::ICudaEngine>
int64_t EngineDeviceMemorySizeForProfile(const E& e, int32_t profile) {
  if constexpr (HasDeviceMemorySizeForProfileV2<E>::value) {
    return static_cast<int64_t>(e.getDeviceMemorySizeForProfileV2(profile));
  } else if constexpr (HasDeviceMemorySizeForProfile<E>::value) {
    return static_cast<int64_t>(e.getDeviceMemorySizeForProfile(profile));
  } else {
    (void)e;
    (void)profile;
    return -1;
  }
}

// min/opt/max values of a shape-tensor input for a profile, into out[0..n). false when unavailable.
template <typename E = nvinfer1::ICudaEngine>
bool ProfileTensorValues(const E& e, const char* name, int32_t profile, nvinfer1::OptProfileSelector sel, int64_t* out,
                         int64_t n) {
  if constexpr (HasProfileTensorValuesV2<E>::value) {
    if (const int64_t* v = e.getProfileTensorValuesV2(name, profile, sel)) {
      for (int64_t i = 0; i < n; ++i) out[i] = v[i];
      return true;
    }
  }
  if constexpr (HasProfileTensorValues<E>::value) {
    if (const int32_t* v = e.getProfileTensorValues(name, profile, sel)) {
      for (int64_t i = 0; i < n; ++i) out[i] = v[i];
      return true;
    }
  }
  (void)e, (void)name, (void)profile, (void)sel, (void)out, (void)n;
  return false;
}

// Weight streaming (review 2, #12). The V2 budget API (setWeightStreamingBudgetV2 & co) exists from 10.1; 10.0 has
// only V1 (whose values mean other things, and which the header forbids mixing with V2): tensorrt-node uses V2 only.
template <typename E, typename = void>
struct HasWeightStreamingV2 : std::false_type {};
template <typename E>
struct HasWeightStreamingV2<E, std::void_t<decltype(std::declval<E&>().setWeightStreamingBudgetV2(0)),
                                           decltype(std::declval<const E&>().getWeightStreamingBudgetV2()),
                                           decltype(std::declval<const E&>().getWeightStreamingAutomaticBudget()),
                                           decltype(std::declval<const E&>().getWeightStreamingScratchMemorySize())>>
    : std::true_type {};
template <typename E, typename = void>
struct HasStreamableWeights : std::false_type {};  // getStreamableWeightsSize (10.0+)
template <typename E>
struct HasStreamableWeights<E, std::void_t<decltype(std::declval<const E&>().getStreamableWeightsSize())>>
    : std::true_type {};
template <typename E, typename = void>
struct HasAliasedInputTensor : std::false_type {};  // getAliasedInputTensor (10.x; KV-cache style in-place outputs)
template <typename E>
struct HasAliasedInputTensor<E, std::void_t<decltype(std::declval<const E&>().getAliasedInputTensor(""))>>
    : std::true_type {};

constexpr bool HasWeightStreamingBudgetV2() { return HasWeightStreamingV2<nvinfer1::ICudaEngine>::value; }

// Bytes of weights that can be streamed (0: built without BuilderFlag::kWEIGHT_STREAMING, or no such API).
template <typename E = nvinfer1::ICudaEngine>
int64_t StreamableWeightsSize(const E& e) {
  if constexpr (HasStreamableWeights<E>::value) {
    return e.getStreamableWeightsSize();
  } else {
    (void)e;
    return 0;
  }
}

// What the V2 getters answer (-1 where V2 does not exist).
enum class WeightStreamingQuery { kBudget, kAutomaticBudget, kScratchMemorySize };
template <typename E = nvinfer1::ICudaEngine>
int64_t WeightStreamingV2(const E& e, WeightStreamingQuery q) {
  if constexpr (HasWeightStreamingV2<E>::value) {
    switch (q) {
      case WeightStreamingQuery::kBudget:
        return e.getWeightStreamingBudgetV2();
      case WeightStreamingQuery::kAutomaticBudget:
        return e.getWeightStreamingAutomaticBudget();
      case WeightStreamingQuery::kScratchMemorySize:
        return e.getWeightStreamingScratchMemorySize();
    }
    return -1;
  } else {
    (void)e, (void)q;
    return -1;
  }
}

// setWeightStreamingBudgetV2; false where V2 does not exist.
template <typename E = nvinfer1::ICudaEngine>
bool SetWeightStreamingBudgetV2(E& e, int64_t bytes) {
  if constexpr (HasWeightStreamingV2<E>::value) {
    return e.setWeightStreamingBudgetV2(bytes);
  } else {
    (void)e, (void)bytes;
    return false;
  }
}

// Whether the engine streams its weights, i.e. enqueueV3 is synchronous (the header: "If the Engine is streaming
// weights, enqueueV3 will become synchronous"). V2: budget < getStreamableWeightsSize(). Without V2 (10.0), any
// engine with streamable weights counts as streaming (its V1 budget is not interpreted).
template <typename E = nvinfer1::ICudaEngine>
bool StreamsWeights(const E& e) {
  int64_t streamable = StreamableWeightsSize(e);
  if (streamable <= 0) return false;
  if constexpr (HasWeightStreamingV2<E>::value) {
    return e.getWeightStreamingBudgetV2() < streamable;
  } else {
    return true;
  }
}

// The input an output tensor must share memory with (getAliasedInputTensor), or nullptr (none / no such API).
template <typename E = nvinfer1::ICudaEngine>
const char* AliasedInputTensor(const E& e, const char* output) {
  if constexpr (HasAliasedInputTensor<E>::value) {
    return e.getAliasedInputTensor(output);
  } else {
    (void)e, (void)output;
    return nullptr;
  }
}
TN_ALLOW_DEPRECATED_END

}  // namespace tn::compat

#else  // !TN_HAVE_TENSORRT
#define TN_HAS_IMPLICIT_INT8 0
#define TN_HAS_PROGRESS_MONITOR 0
#define TN_HAS_PLATFORM_CAPS 0
#define TN_HAS_STRONGLY_TYPED 0
#define TN_ALWAYS_STRONGLY_TYPED 0
#define TN_NEEDS_EXPLICIT_BATCH_FLAG 0
#define TN_HAS_OPTIMIZATION_LEVEL 0
#define TN_HAS_WEIGHT_STREAMING 0
#define TN_HAS_PARSER_NODE_NAME 0
#define TN_HAS_UFF 0
#define TN_HAS_LAYER_PRECISION 0
#endif
