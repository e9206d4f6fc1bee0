import ShrinkFormats
import Testing

@Suite struct StrictJSONTests {
    @Test func parsesNestedValuesKeepingKeyOrderAndExactIntegers() throws {
        let v = try StrictJSONParser.parse(Array(#"{"b": [1, 9007199254740993, -0.5e3], "a": {"x": "é\n\u00e9"}, "t": true, "n": null}"#.utf8))
        #expect(v.objectMembers?.map(\.key) == ["b", "a", "t", "n"])
        #expect(v["b"]?.arrayValue?[1].intValue == 9_007_199_254_740_993)
        #expect(v["a"]?["x"]?.stringValue == "é\né")
    }

    @Test func rejectsRepeatedKeys() {
        #expect(throws: JSONParseError.self) { try StrictJSONParser.parse(Array(#"{"w": 1, "w": 2}"#.utf8)) }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":}", "01", "{\"a\":1} x", "\"\\x\"", "nul", String(repeating: "[", count: 100)])
    func rejectsMalformedText(_ text: String) {
        #expect(throws: JSONParseError.self) { try StrictJSONParser.parse(Array(text.utf8)) }
    }
}
