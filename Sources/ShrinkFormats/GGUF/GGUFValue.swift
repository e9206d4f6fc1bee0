/// GGUF metadata value types (ggml docs/gguf.md, `gguf_metadata_value_type`).
public enum GGUFValueType: UInt32, CaseIterable, Sendable, Codable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value in the file; for strings and arrays, the least (their length field).
    public var minimumBytes: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64, .string: 8
        case .array: 12  // element type + count
        }
    }

    public var name: String {
        switch self {
        case .uint8: "uint8"
        case .int8: "int8"
        case .uint16: "uint16"
        case .int16: "int16"
        case .uint32: "uint32"
        case .int32: "int32"
        case .float32: "float32"
        case .bool: "bool"
        case .string: "string"
        case .array: "array"
        case .uint64: "uint64"
        case .int64: "int64"
        case .float64: "float64"
        }
    }
}

/// One GGUF metadata value, as the reader returns it and the writer takes it.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double)
    case bool(Bool)
    case string(String)
    /// Elements all of `elementType` (which the file states even for an empty array).
    case array(elementType: GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value of any integer type, when it fits an Int.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): Int(v)
        case let .int8(v): Int(v)
        case let .uint16(v): Int(v)
        case let .int16(v): Int(v)
        case let .uint32(v): Int(v)
        case let .int32(v): Int(v)
        case let .uint64(v): Int(exactly: v)
        case let .int64(v): Int(v)
        default: nil
        }
    }

    /// The value of a float, or of an integer converted.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): Double(v)
        case let .float64(v): v
        default: intValue.map(Double.init)
        }
    }

    public var boolValue: Bool? { if case let .bool(b) = self { b } else { nil } }
    public var stringValue: String? { if case let .string(s) = self { s } else { nil } }
    public var arrayValue: [GGUFValue]? { if case let .array(_, a) = self { a } else { nil } }

    /// "string", "uint32", "array of 49152 string" — for messages and `shrink inspect`.
    public var typeDescription: String {
        if case let .array(t, a) = self { return "array of \(a.count) \(t.name)" }
        return type.name
    }

    /// A short text: scalars in full, arrays by type and length.
    public var summary: String {
        switch self {
        case let .uint8(v): String(v)
        case let .int8(v): String(v)
        case let .uint16(v): String(v)
        case let .int16(v): String(v)
        case let .uint32(v): String(v)
        case let .int32(v): String(v)
        case let .uint64(v): String(v)
        case let .int64(v): String(v)
        case let .float32(v): String(v)
        case let .float64(v): String(v)
        case let .bool(v): String(v)
        case let .string(s): s
        case .array: typeDescription
        }
    }
}
