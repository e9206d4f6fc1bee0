import FuzzSupport
import ShrinkFormats


/// libFuzzer target: StrictJSON (RFC 8259, no duplicates). Whatever parses must serialize to text that parses back
/// to an equal value.
func fuzzStrictJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    guard let value = try? StrictJSONParser.parse(bytes) else { return 0 }
    let text = value.serialized()
    guard let again = try? StrictJSONParser.parse(Array(text.utf8)) else { fatalError("serialized JSON does not parse: \(text)") }
    if again != value { fatalError("JSON round trip changed the value: \(text)") }
    _ = value.serialized(indent: 2)
    return 0
}

fuzzMain(fuzzStrictJSON)
