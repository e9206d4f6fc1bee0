import Foundation
import ShrinkFormats
import ShrinkTensor

/// Paths and helpers shared by the test targets.
public enum Fixtures {
    /// The repository root, found from this source file's location.
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    public static func path(_ relative: String) -> String { root + "/" + relative }
    public static var defaultModel: String { path("Fixtures/default/model.safetensors") }
    public static var testFixtures: String { path("Tests/Fixtures") }
}

/// A fresh temporary directory, removed when the value is deinitialized.
public final class TemporaryDirectory {
    public let path: String

    public init(_ label: String = "shrink-test") {
        let base = FileManager.default.temporaryDirectory.path
        path = base + "/\(label)-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    public func file(_ name: String) -> String { path + "/" + name }
    public var entries: [String] { (try? FileManager.default.contentsOfDirectory(atPath: path).sorted()) ?? [] }
}

/// A deterministic generator for test data (SplitMix64).
public struct TestRandom: RandomNumberGenerator {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Roughly normal values (sum of uniforms), scaled.
    public mutating func normals(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in
            var s: Float = 0
            for _ in 0..<4 { s += Float.random(in: -1...1, using: &self) }
            return s * scale * 0.866
        }
    }
}

/// Writes tensors of Float values as F32 safetensors (test inputs).
public func writeF32(_ tensors: [(String, [Int], [Float])], to path: String, metadata: [String: String] = [:]) throws {
    let infos = tensors.map { TensorInfo(name: $0.0, dtype: .f32, shape: Shape($0.1)) }
    let w = try SafetensorsWriter(path: path, tensors: infos, metadata: metadata)
    for t in tensors { try w.write(t.0, values: t.2) }
    try w.commit()
}

public func fileBytes(_ path: String) -> [UInt8] { [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()) }
