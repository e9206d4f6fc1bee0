import Foundation
import SwiftProtobuf

/// ONNX `TensorProto.DataType` values this exporter writes (onnx.proto, IR 10).
public enum ONNXElementType: Int32, Sendable {
    case float = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, uint4 = 21, int4 = 22
}

/// Appends nodes and initializers to one ONNX graph with deterministic names
/// (a per-hint counter), so the same model and flags give the same bytes.
struct ONNXGraphBuilder {
    private(set) var nodes: [Onnx_NodeProto] = []
    private(set) var initializers: [Onnx_TensorProto] = []
    private var counters: [String: Int] = [:]
    private var constants: [String: String] = [:]

    mutating func fresh(_ hint: String) -> String {
        let n = counters[hint, default: 0]
        counters[hint] = n + 1
        return "\(hint)_\(n)"
    }

    /// Adds a node with one output and returns the output's name.
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = [],
                       domain: String = "", output: String? = nil) -> String {
        node(op, inputs, attributes, domain: domain, outputs: [output ?? fresh(op.lowercased())])[0]
    }

    /// Adds a node with the given outputs (empty input names stand for omitted optional inputs).
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto] = [],
                       domain: String = "", outputs: [String]) -> [String] {
        var n = Onnx_NodeProto()
        n.opType = op
        n.domain = domain
        n.name = fresh("n_" + op)
        n.input = inputs
        n.output = outputs
        n.attribute = attributes
        nodes.append(n)
        return outputs
    }

    mutating func multiOutput(_ op: String, _ inputs: [String], _ attributes: [Onnx_AttributeProto], count: Int) -> [String] {
        let base = op.lowercased()
        return node(op, inputs, attributes, outputs: (0..<count).map { _ in fresh(base) })
    }

    mutating func initializer(_ name: String, _ type: ONNXElementType, dims: [Int], raw: Data) {
        var t = Onnx_TensorProto()
        t.name = name
        t.dataType = type.rawValue
        t.dims = dims.map(Int64.init)
        t.rawData = raw
        initializers.append(t)
    }

    mutating func floats(_ name: String, dims: [Int], _ values: [Float]) -> String {
        precondition(values.count == dims.reduce(1, *))
        initializer(name, .float, dims: dims, raw: values.withUnsafeBufferPointer { b in
            Data(b.map { $0.bitPattern.littleEndian }.withUnsafeBytes { Array($0) })
        })
        return name
    }

    mutating func int64s(_ name: String, dims: [Int], _ values: [Int64]) -> String {
        initializer(name, .int64, dims: dims, raw: Data(values.map(\.littleEndian).withUnsafeBytes { Array($0) }))
        return name
    }

    /// A float scalar constant, shared by value.
    mutating func scalar(_ value: Float) -> String {
        let key = "f\(value.bitPattern)"
        if let name = constants[key] { return name }
        let name = floats("const_f32_\(constants.count)", dims: [], [value])
        constants[key] = name
        return name
    }

    /// An int64 vector constant (shapes, axes, slice bounds), shared by value.
    mutating func int64Vector(_ values: [Int]) -> String {
        let key = "i" + values.map(String.init).joined(separator: ",")
        if let name = constants[key] { return name }
        let name = int64s("const_i64_\(constants.count)", dims: [values.count], values.map(Int64.init))
        constants[key] = name
        return name
    }
}

extension Onnx_AttributeProto {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name; a.type = .int; a.i = Int64(value)
        return a
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto()
        a.name = name; a.type = .ints; a.ints = values.map(Int64.init)
        return a
    }
}

extension Onnx_ValueInfoProto {
    /// A tensor input or output; string dimensions are symbolic (`dim_param`).
    static func tensor(_ name: String, _ type: ONNXElementType, _ dims: [ONNXDimension]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case let .fixed(n): dim.dimValue = Int64(n)
            case let .symbolic(s): dim.dimParam = s
            }
            return dim
        }
        var tensorType = Onnx_TypeProto.Tensor()
        tensorType.elemType = type.rawValue
        tensorType.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensorType
        var v = Onnx_ValueInfoProto()
        v.name = name
        v.type = type
        return v
    }
}

enum ONNXDimension {
    case fixed(Int)
    case symbolic(String)
}
