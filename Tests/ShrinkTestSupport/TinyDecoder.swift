import Foundation

/// The tiny random Llama of Tests/Fixtures/llama/llama-tiny (2 blocks, GQA, vocabulary 256) copied into a test's
/// directory with a byte-level tokenizer.json whose 256 tokens are the 256 bytes, so any text runs through it, and
/// two different texts (calibration, evaluation).
public enum TinyDecoder {
    /// GPT-2's bytes_to_unicode: the printable stand-in of each byte in a byte-level BPE vocabulary.
    public static func byteSymbols() -> [Int: Character] {
        var bytes = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = bytes
        var n = 0
        for b in 0..<256 where !bytes.contains(b) { bytes.append(b); codes.append(256 + n); n += 1 }
        return Dictionary(uniqueKeysWithValues: zip(bytes, codes.map { Character(Unicode.Scalar($0)!) }))
    }

    public static func setUp(in dir: TemporaryDirectory) throws -> (model: String, calibration: String, evaluation: String) {
        let model = dir.file("llama")
        try FileManager.default.copyItem(atPath: Fixtures.path("Tests/Fixtures/llama/llama-tiny"), toPath: model)
        let vocab = byteSymbols().map { (String($0.value), $0.key) }.sorted { $0.1 < $1.1 }
        let json: [String: Any] = [
            "version": "1.0", "added_tokens": [Any](), "normalizer": NSNull(), "post_processor": NSNull(),
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true],
            "decoder": ["type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true],
            "model": ["type": "BPE", "dropout": NSNull(), "unk_token": NSNull(), "continuing_subword_prefix": NSNull(),
                      "end_of_word_suffix": NSNull(), "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": Dictionary(uniqueKeysWithValues: vocab), "merges": [String]()],
        ]
        try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]).write(to: URL(fileURLWithPath: model + "/tokenizer.json"))
        func text(_ seed: Int) -> String {
            (0..<120).map { i in "line \(i * seed % 97): the \(["quick", "slow", "brown", "lazy"][i % 4]) fox jumps over \(i * 31 % 13) dogs.\n" }.joined()
        }
        try text(7).write(toFile: dir.file("calibration.txt"), atomically: true, encoding: .utf8)
        try text(11).write(toFile: dir.file("evaluation.txt"), atomically: true, encoding: .utf8)
        return (model, dir.file("calibration.txt"), dir.file("evaluation.txt"))
    }
}
