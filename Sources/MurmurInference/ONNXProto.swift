import MurmurCore

// The subset of onnx.proto (IR version ≤ 10) that the engine reads. Field numbers follow
// onnx/onnx.proto3; fields not listed here are skipped.

/// `OperatorSetIdProto`: which version of an operator domain a model uses.
public struct OpsetImport: Sendable, Equatable {
    public var domain: String = ""
    public var version: Int = 0
}

/// `ModelProto`.
public struct ModelProto: Sendable {
    public var irVersion: Int = 0
    public var opsetImports: [OpsetImport] = []
    public var producerName: String = ""
    public var producerVersion: String = ""
    public var domain: String = ""
    public var modelVersion: Int = 0
    public var docString: String = ""
    public var graph = GraphProto()

    /// The imported version of `domain` ("" and "ai.onnx" are the same default domain).
    public func opsetVersion(_ domain: String) -> Int? {
        let d = domain == "ai.onnx" ? "" : domain
        return opsetImports.first { ($0.domain == "ai.onnx" ? "" : $0.domain) == d }?.version
    }

    /// Decodes a model. Throws `InferenceError` on any malformed or over-limit input.
    public init(bytes: [UInt8]) throws(InferenceError) {
        guard bytes.count <= Limits.maxModelBytes else {
            throw .limitExceeded(what: "model size", limit: Limits.maxModelBytes, actual: bytes.count)
        }
        var r = ProtoReader(bytes)
        var sawGraph = false
        while let (f, w) = try r.nextField() {
            switch f {
            case 1: try r.expect(w, .varint, "ir_version"); irVersion = Int(truncatingIfNeeded: try r.varint())
            case 2: try r.expect(w, .lengthDelimited, "producer_name"); producerName = try r.string()
            case 3: try r.expect(w, .lengthDelimited, "producer_version"); producerVersion = try r.string()
            case 4: try r.expect(w, .lengthDelimited, "domain"); domain = try r.string()
            case 5: try r.expect(w, .varint, "model_version"); modelVersion = Int(truncatingIfNeeded: try r.varint())
            case 6: try r.expect(w, .lengthDelimited, "doc_string"); _ = try r.lengthDelimitedRange()
            case 7:
                try r.expect(w, .lengthDelimited, "graph")
                var sub = try r.message()
                graph = try GraphProto(&sub)
                sawGraph = true
            case 8:
                try r.expect(w, .lengthDelimited, "opset_import")
                var sub = try r.message()
                var o = OpsetImport()
                while let (f2, w2) = try sub.nextField() {
                    switch f2 {
                    case 1: try sub.expect(w2, .lengthDelimited, "opset domain"); o.domain = try sub.string()
                    case 2: try sub.expect(w2, .varint, "opset version"); o.version = Int(truncatingIfNeeded: try sub.varint())
                    default: try sub.skip(w2)
                    }
                }
                try r.checkCount(opsetImports.count + 1)
                opsetImports.append(o)
            default: try r.skip(w)
            }
        }
        guard sawGraph else { throw .malformed("model has no graph (is this an ONNX file?)") }
    }
}

/// `TensorShapeProto.Dimension`: a fixed size, a symbolic name, or unknown.
public enum Dimension: Sendable, Equatable, CustomStringConvertible {
    case value(Int)
    case symbol(String)
    case unknown
    public var description: String {
        switch self {
        case let .value(v): return String(v)
        case let .symbol(s): return s
        case .unknown: return "?"
        }
    }
}

/// `ValueInfoProto` restricted to tensor types: name, element type and (optional) shape.
public struct ValueInfo: Sendable, Equatable {
    public var name: String = ""
    /// ONNX `TensorProto.DataType` number; 0 when not a tensor or not declared.
    public var elementType: Int = 0
    /// nil when the shape is not declared (any rank).
    public var shape: [Dimension]? = nil
    /// false for sequence / map / optional types (not supported by this engine yet).
    public var isTensor: Bool = true

    init() {}
    init(_ r: inout ProtoReader) throws(InferenceError) {
        while let (f, w) = try r.nextField() {
            switch f {
            case 1: try r.expect(w, .lengthDelimited, "value_info name"); name = try r.string()
            case 2:
                try r.expect(w, .lengthDelimited, "type")
                var t = try r.message()
                var sawTensor = false
                while let (tf, tw) = try t.nextField() {
                    if tf == 1 || tf == 8 {  // tensor_type, sparse_tensor_type
                        try t.expect(tw, .lengthDelimited, "tensor_type")
                        sawTensor = true
                        var tt = try t.message()
                        while let (ff, fw) = try tt.nextField() {
                            switch ff {
                            case 1: try tt.expect(fw, .varint, "elem_type"); elementType = Int(truncatingIfNeeded: try tt.varint())
                            case 2:
                                try tt.expect(fw, .lengthDelimited, "shape")
                                var s = try tt.message()
                                var dims: [Dimension] = []
                                while let (sf, sw) = try s.nextField() {
                                    guard sf == 1 else { try s.skip(sw); continue }
                                    try s.expect(sw, .lengthDelimited, "dim")
                                    var d = try s.message()
                                    var dim = Dimension.unknown
                                    while let (df, dw) = try d.nextField() {
                                        switch df {
                                        case 1:
                                            try d.expect(dw, .varint, "dim_value")
                                            dim = .value(Int(Int64(bitPattern: try d.varint())))
                                        case 2: try d.expect(dw, .lengthDelimited, "dim_param"); dim = .symbol(try d.string())
                                        default: try d.skip(dw)
                                        }
                                    }
                                    guard dims.count < Limits.maxTensorRank else {
                                        throw .limitExceeded(what: "declared rank", limit: Limits.maxTensorRank, actual: dims.count + 1)
                                    }
                                    dims.append(dim)
                                }
                                shape = dims
                            default: try tt.skip(fw)
                            }
                        }
                    } else {
                        try t.skip(tw)
                    }
                }
                isTensor = sawTensor
            default: try r.skip(w)
            }
        }
    }
}

/// `AttributeProto.AttributeType`.
public enum AttributeValue: Sendable {
    case float(Float)
    case int(Int)
    case string([UInt8])
    case tensor(TensorProto)
    case graph(GraphProto)
    case floats([Float])
    case ints([Int])
    case strings([[UInt8]])
    case tensors([TensorProto])
    case graphs([GraphProto])
    /// sparse tensors and type protos: recognised, not supported.
    case unsupported(type: Int)
}

/// `AttributeProto`.
public struct Attribute: Sendable {
    public var name: String
    public var value: AttributeValue
    /// Set when the attribute refers to a function's attribute (unsupported).
    public var refAttrName: String

    init(_ r: inout ProtoReader) throws(InferenceError) {
        var name = "", type = 0, ref = ""
        var f: Float = 0, i = 0
        var s: [UInt8] = []
        var t: TensorProto?
        var g: GraphProto?
        var floats: [UInt32] = [], ints: [UInt64] = []
        var strings: [[UInt8]] = [], tensors: [TensorProto] = [], graphs: [GraphProto] = []
        while let (fn, w) = try r.nextField() {
            switch fn {
            case 1: try r.expect(w, .lengthDelimited, "attribute name"); name = try r.string()
            case 20: try r.expect(w, .varint, "attribute type"); type = Int(truncatingIfNeeded: try r.varint())
            case 21: try r.expect(w, .lengthDelimited, "ref_attr_name"); ref = try r.string()
            case 2: try r.expect(w, .fixed32, "f"); f = Float(bitPattern: try r.fixed32())
            case 3: try r.expect(w, .varint, "i"); i = Int(Int64(bitPattern: try r.varint()))
            case 4: try r.expect(w, .lengthDelimited, "s"); s = Array(try r.bytes())
            case 5: try r.expect(w, .lengthDelimited, "t"); var m = try r.message(); t = try TensorProto(&m)
            case 6: try r.expect(w, .lengthDelimited, "g"); var m = try r.message(); g = try GraphProto(&m)
            case 7: try r.appendFixed32(w, to: &floats)
            case 8: try r.appendVarints(w, to: &ints)
            case 9:
                try r.expect(w, .lengthDelimited, "strings")
                try r.checkCount(strings.count + 1)
                strings.append(Array(try r.bytes()))
            case 10:
                try r.expect(w, .lengthDelimited, "tensors")
                try r.checkCount(tensors.count + 1)
                var m = try r.message(); tensors.append(try TensorProto(&m))
            case 11:
                try r.expect(w, .lengthDelimited, "graphs")
                try r.checkCount(graphs.count + 1)
                var m = try r.message(); graphs.append(try GraphProto(&m))
            default: try r.skip(w)
            }
        }
        self.name = name
        self.refAttrName = ref
        // IR version 1 models may omit `type`; infer it from which field is set.
        if type == 0 {
            if t != nil { type = 4 } else if g != nil { type = 5 } else if !floats.isEmpty { type = 6 }
            else if !ints.isEmpty { type = 7 } else if !strings.isEmpty { type = 8 } else if !s.isEmpty { type = 3 }
            else if f != 0 { type = 1 } else { type = 2 }
        }
        switch type {
        case 1: value = .float(f)
        case 2: value = .int(i)
        case 3: value = .string(s)
        case 4:
            guard let t else { throw .malformed("attribute '\(name)' of type TENSOR has no tensor") }
            value = .tensor(t)
        case 5:
            guard let g else { throw .malformed("attribute '\(name)' of type GRAPH has no graph") }
            value = .graph(g)
        case 6: value = .floats(floats.map { Float(bitPattern: $0) })
        case 7: value = .ints(ints.map { Int(Int64(bitPattern: $0)) })
        case 8: value = .strings(strings)
        case 9: value = .tensors(tensors)
        case 10: value = .graphs(graphs)
        default: value = .unsupported(type: type)
        }
    }
}

/// `NodeProto`.
public struct NodeProto: Sendable {
    public var inputs: [String] = []
    public var outputs: [String] = []
    public var name: String = ""
    public var opType: String = ""
    public var domain: String = ""
    public var attributes: [Attribute] = []

    public func attribute(_ name: String) -> AttributeValue? {
        attributes.first { $0.name == name }?.value
    }

    init(_ r: inout ProtoReader) throws(InferenceError) {
        while let (f, w) = try r.nextField() {
            switch f {
            case 1: try r.expect(w, .lengthDelimited, "node input"); try r.checkCount(inputs.count + 1); inputs.append(try r.string())
            case 2: try r.expect(w, .lengthDelimited, "node output"); try r.checkCount(outputs.count + 1); outputs.append(try r.string())
            case 3: try r.expect(w, .lengthDelimited, "node name"); name = try r.string()
            case 4: try r.expect(w, .lengthDelimited, "op_type"); opType = try r.string()
            case 7: try r.expect(w, .lengthDelimited, "node domain"); domain = try r.string()
            case 5:
                try r.expect(w, .lengthDelimited, "attribute")
                try r.checkCount(attributes.count + 1)
                var m = try r.message()
                attributes.append(try Attribute(&m))
            default: try r.skip(w)
            }
        }
        if domain == "ai.onnx" { domain = "" }
    }
}

/// `GraphProto`.
public struct GraphProto: Sendable {
    public var name: String = ""
    public var nodes: [NodeProto] = []
    public var initializers: [TensorProto] = []
    public var inputs: [ValueInfo] = []
    public var outputs: [ValueInfo] = []
    public var valueInfo: [ValueInfo] = []

    public init() {}

    init(_ r: inout ProtoReader) throws(InferenceError) {
        while let (f, w) = try r.nextField() {
            switch f {
            case 1:
                try r.expect(w, .lengthDelimited, "node")
                guard nodes.count < Limits.maxGraphNodes else {
                    throw .limitExceeded(what: "graph node count", limit: Limits.maxGraphNodes, actual: nodes.count + 1)
                }
                var m = try r.message(); nodes.append(try NodeProto(&m))
            case 2: try r.expect(w, .lengthDelimited, "graph name"); name = try r.string()
            case 5:
                try r.expect(w, .lengthDelimited, "initializer")
                try r.checkCount(initializers.count + 1)
                var m = try r.message(); initializers.append(try TensorProto(&m))
            case 15:
                throw .malformed("sparse initializers are not supported")
            case 11, 12, 13:
                try r.expect(w, .lengthDelimited, "value info")
                var m = try r.message()
                let v = try ValueInfo(&m)
                if f == 11 { try r.checkCount(inputs.count + 1); inputs.append(v) }
                else if f == 12 { try r.checkCount(outputs.count + 1); outputs.append(v) }
                else { try r.checkCount(valueInfo.count + 1); valueInfo.append(v) }
            default: try r.skip(w)
            }
        }
    }
}

/// `TensorProto`: dims, data type and data in whichever field the writer used.
public struct TensorProto: Sendable {
    public var name: String = ""
    public var dims: [Int] = []
    public var dataType: Int = 0
    public var rawData: ArraySlice<UInt8>? = nil
    public var floatData: [UInt32] = []
    public var int32Data: [UInt64] = []
    public var int64Data: [UInt64] = []
    public var doubleData: [UInt64] = []
    public var uint64Data: [UInt64] = []
    public var stringCount = 0
    public var isExternal = false

    /// Decodes a standalone `TensorProto` (e.g. a backend test's `input_0.pb`).
    public init(bytes: [UInt8]) throws(InferenceError) {
        var r = ProtoReader(bytes)
        try self.init(&r)
    }

    init(_ r: inout ProtoReader) throws(InferenceError) {
        var dims64: [UInt64] = []
        while let (f, w) = try r.nextField() {
            switch f {
            case 1: try r.appendVarints(w, to: &dims64)
            case 2: try r.expect(w, .varint, "data_type"); dataType = Int(truncatingIfNeeded: try r.varint())
            case 4: try r.appendFixed32(w, to: &floatData)
            case 5: try r.appendVarints(w, to: &int32Data)
            case 6: try r.expect(w, .lengthDelimited, "string_data"); _ = try r.lengthDelimitedRange(); stringCount += 1
            case 7: try r.appendVarints(w, to: &int64Data)
            case 8: try r.expect(w, .lengthDelimited, "tensor name"); name = try r.string()
            case 9: try r.expect(w, .lengthDelimited, "raw_data"); rawData = try r.bytes()
            case 10: try r.appendFixed64(w, to: &doubleData)
            case 11: try r.appendVarints(w, to: &uint64Data)
            case 13: try r.expect(w, .lengthDelimited, "external_data"); _ = try r.lengthDelimitedRange(); isExternal = true
            case 14:
                try r.expect(w, .varint, "data_location")
                if try r.varint() == 1 { isExternal = true }
            default: try r.skip(w)
            }
        }
        guard dims64.count <= Limits.maxTensorRank else {
            throw .limitExceeded(what: "tensor rank", limit: Limits.maxTensorRank, actual: dims64.count)
        }
        dims = []
        for d in dims64 {
            let v = Int64(bitPattern: d)
            guard v >= 0 else { throw .malformed("tensor '\(name)' has negative dimension \(v)") }
            guard v <= Int64(Limits.maxTensorElements) else {
                throw .limitExceeded(what: "tensor dimension", limit: Limits.maxTensorElements, actual: Int(v))
            }
            dims.append(Int(v))
        }
    }
}
