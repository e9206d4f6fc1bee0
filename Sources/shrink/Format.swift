import Foundation
import ShrinkEval
import ShrinkFormats
import ShrinkQuant
import ShrinkTensor

/// Plain-text rendering of results (the JSON form comes from Codable).
enum Format {
    static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : fixed(v, v < 10 ? 2 : 1) + " " + units[u]
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if v.isNaN { return "nan" }
        return String(format: "%.\(digits)f", v)
    }

    static func count(_ n: Int) -> String {
        if n >= 1_000_000 { return fixed(Double(n) / 1e6, 2) + "M" }
        if n >= 10_000 { return fixed(Double(n) / 1e3, 1) + "k" }
        return String(n)
    }

    static func table(_ header: [String], _ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        var widths = header.map(\.count)
        for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in
                let pad = String(repeating: " ", count: widths[i] - c.count)
                return rightAligned.contains(i) ? pad + c : c + pad
            }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }

    static func inspect(_ r: InspectReport) -> String {
        var out: String
        if let g = r.gguf {
            out = table(["key", "type", "value"], g.keys.map { [$0.key, $0.type, $0.value] })
            out += "\n\n" + table(["tensor", "ggml type", "shape", "params", "bytes"],
                                   r.tensors.map { [$0.name, $0.ggmlType ?? "", $0.shape.description, count($0.parameters), bytes($0.bytes)] },
                                   rightAligned: [3, 4])
            out += "\n\nGGUF v\(g.version), alignment \(g.alignment), \(g.keys.count) metadata keys; "
            out += "\(r.tensors.count) tensors, \(count(r.parameters)) parameters (\(r.parameters)), \(bytes(r.bytes))"
            out += "  [" + g.ggmlTypes.keys.sorted().map { "\($0): \(count(g.ggmlTypes[$0]!))" }.joined(separator: ", ") + "]"
            return out
        }
        out = table(["tensor", "dtype", "shape", "params", "bytes"],
                    r.tensors.map { [$0.name, $0.dtype.rawValue, $0.shape.description, count($0.parameters), bytes($0.bytes)] },
                    rightAligned: [3, 4])
        out += "\n\n\(r.tensors.count) tensors, \(count(r.parameters)) parameters (\(r.parameters)), \(bytes(r.bytes))"
        out += "  [" + r.dtypes.keys.sorted().map { "\($0): \(count(r.dtypes[$0]!))" }.joined(separator: ", ") + "]"
        if let q = r.quantized, !q.isEmpty {
            out += "\n\ncompressed-tensors pack-quantized weights:\n"
            out += table(["weight", "shape", "bits", "scheme", "stored"],
                         q.map { [$0.name, $0.shape.description, String($0.bits),
                                  ($0.groupSize.map { "group-\($0)" } ?? $0.strategy) + ($0.symmetric ? " sym" : " asym"), bytes($0.storedBytes)] },
                         rightAligned: [2, 4])
        }
        return out
    }

    static func recipe(_ r: Recipe, output: String) -> String {
        let rows = r.tensors.map { t -> [String] in
            let sparse = t.sparsity.map { " sparse \($0)" } ?? ""
            if t.action == .quantized, let e = t.error {
                return [t.name, "int\(t.bits!) " + (t.groupSize.map { "g\($0)" } ?? t.strategy!) + (t.symmetric! ? "" : " asym") + sparse,
                        bytes(t.bytesBefore) + " → " + bytes(t.bytesAfter), fixed(e.sqnrDB, 1), fixed(e.cosine, 5)]
            }
            if t.action == .pruned, let e = t.error {
                return [t.name, (t.sparseFormat ?? "sparse") + sparse, bytes(t.bytesBefore) + " → " + bytes(t.bytesAfter), fixed(e.sqnrDB, 1), fixed(e.cosine, 5)]
            }
            return [t.name, "kept", bytes(t.bytesBefore), "", t.reason ?? ""]
        }
        var out = table(["tensor", "scheme", "bytes", "SQNR dB", "cosine / why kept"], rows, rightAligned: [3])
        out += "\n\nwrote \(output)/: \(r.totals.quantizedTensors) of \(r.tensors.count) tensors \(r.tensors.contains { $0.action == .pruned } ? "pruned" : "quantized"), "
        out += "\(bytes(r.totals.bytesBefore)) → \(bytes(r.totals.bytesAfter)) (\(fixed(r.totals.compressionRatio, 2))×)"
        return out
    }

    static func diff(_ r: DiffReport) -> String {
        var out = table(["tensor", "shape", "SQNR dB", "rel err", "cosine", "max abs err"],
                        r.tensors.map { [$0.name, $0.shape.description, fixed($0.error.sqnrDB, 2), String(format: "%.3e", $0.error.relativeError),
                                         fixed($0.error.cosine, 6), String(format: "%.3e", $0.error.maxAbsError)] },
                        rightAligned: [2, 3, 4, 5])
        if let o = r.overall {
            out += "\n\nall \(r.tensors.count) compared tensors: SQNR \(fixed(o.sqnrDB, 2)) dB, cosine \(fixed(o.cosine, 6)), max abs error \(String(format: "%.3e", o.maxAbsError))"
        }
        for m in r.shapeMismatches { out += "\nshape differs: \(m.name) \(m.referenceShape) vs \(m.otherShape)" }
        if !r.onlyInReference.isEmpty { out += "\nonly in \(r.reference): " + r.onlyInReference.joined(separator: ", ") }
        if !r.onlyInOther.isEmpty { out += "\nonly in \(r.other): " + r.onlyInOther.joined(separator: ", ") }
        return out
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
final class TerminalProgress: ProgressSink, @unchecked Sendable {
    private let lock = NSLock()
    private var last = 0.0
    private var drawn = false

    static func ifTerminal() -> TerminalProgress? { isatty(2) != 0 ? TerminalProgress() : nil }

    func update(done: Int, total: Int, item: String) {
        lock.lock(); defer { lock.unlock() }
        let t = Date().timeIntervalSince1970
        guard t - last >= 0.1 else { return }
        last = t
        let fraction = total > 0 ? Double(done) / Double(total) : 0
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
        let name = item.count > 40 ? "…" + item.suffix(39) : item
        FileHandle.standardError.write(Data("\r\u{1B}[K[\(bar)] \(Int(fraction * 100))% \(name)".utf8))
        drawn = true
    }

    func finish() {
        lock.lock(); defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
