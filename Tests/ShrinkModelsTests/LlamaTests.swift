import CShrinkKernels
import Foundation
import ShrinkFormats
import ShrinkModels
import ShrinkQuant
import ShrinkTestSupport
import Testing

/// Parity of the Llama-family decoder with transformers (goldens by tools/reference/llama_goldens.py):
/// tiny random Qwen2 and Llama models committed under Tests/Fixtures/llama/, and SmolLM2-135M read from its
/// Q4_1 GGUF (models/smollm2, from tools/fetch_real.sh) as transformers reads the same file.
@Suite struct LlamaTests {
    static let smolLM2 = Fixtures.path("models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")

    static func requireSmolLM2() throws -> String {
        guard FileSystem.exists(smolLM2) else {
            throw ModelError.badRequest(flag: smolLM2, reason: "is missing: run tools/fetch_real.sh")
        }
        return smolLM2
    }

    /// max |a − b| / max |b| over one tensor (relativeDifference in ParityTests).
    static let tolerance = 1e-4
    static let tinyModels = ["qwen2-tiny", "llama-tiny"]

    static func tinyDirectory(_ name: String) -> String { Fixtures.path("Tests/Fixtures/llama/\(name)") }

    /// Runs each golden sequence from a fresh cache, collecting logits and every hidden state.
    static func run(_ model: LlamaModel, _ tokens: [Int32]) throws -> (logits: [Float], hidden: [[Float]]) {
        var hidden = [[Float]](repeating: [], count: model.config.layers + 1)
        let logits = try model.forward(tokens, cache: model.makeCache(capacity: tokens.count),
                                       hiddenStates: { hidden[$0] = Array($1) }, linearInputs: nil)
        return (logits, hidden)
    }

    @Test(arguments: tinyModels)
    func tinyRandomModelMatchesTransformers(_ name: String) throws {
        let model = try LlamaModel.load(Self.tinyDirectory(name))
        let golden = try SafetensorsFile(path: Self.tinyDirectory(name) + "/golden.safetensors")
        let inputs = try golden.integers("inputs").map { Int32($0) }
        let logits = try golden.floats("logits"), hidden = try golden.floats("hidden")
        let c = model.config, H = c.hiddenSize, V = c.vocabularySize, L = c.layers
        #expect(c.qkvBias == (name == "qwen2-tiny") && !c.tiedEmbeddings && c.kvHeads < c.heads)
        let sequences = 2, T = inputs.count / sequences
        #expect(golden.info("hidden")?.shape.dims == [L + 1, sequences, T, H])
        var worst = 0.0
        for s in 0..<sequences {
            let out = try Self.run(model, Array(inputs[(s * T)..<((s + 1) * T)]))
            let ref = logits[(s * T * V)..<((s + 1) * T * V)]
            let e = relativeDifference(out.logits[...], ref)
            #expect(e < Self.tolerance, "\(name) sequence \(s) logits: \(e)")
            worst = max(worst, e)
            for l in 0...L {
                let base = (l * sequences + s) * T * H
                let e = relativeDifference(out.hidden[l][...], hidden[base..<(base + T * H)])
                #expect(e < Self.tolerance, "\(name) sequence \(s) hidden state \(l): \(e)")
                worst = max(worst, e)
            }
        }
        print("\(name): worst relative difference \(worst)")
    }

    /// The tiny Qwen2 as a llama.cpp `qwen2` GGUF (gguf-py, F32; rows unpermuted) gives the same outputs.
    @Test func tinyQwen2FromGGUFMatchesTransformers() throws {
        let dir = Self.tinyDirectory("qwen2-tiny")
        let model = try LlamaModel.load(dir + "/model.gguf")
        let fromSafetensors = try LlamaModel.load(dir)
        #expect(model.config.qkvBias && !model.config.tiedEmbeddings && model.config.modelType == "qwen2")
        #expect(model.config.heads == fromSafetensors.config.heads && model.config.ropeTheta == fromSafetensors.config.ropeTheta)
        let golden = try SafetensorsFile(path: dir + "/golden.safetensors")
        let inputs = Array(try golden.integers("inputs").map { Int32($0) }.prefix(24))
        let out = try Self.run(model, inputs)
        let e = relativeDifference(out.logits[...], try golden.floats("logits")[0..<(24 * 256)])
        #expect(e < Self.tolerance, "\(e)")
        #expect(out.logits == (try Self.run(fromSafetensors, inputs)).logits)
    }

    /// Prefill then one token at a time through the KV cache gives the logits of one full pass.
    @Test(arguments: tinyModels)
    func incrementalDecodingThroughTheCacheMatchesTheFullPass(_ name: String) throws {
        let model = try LlamaModel.load(Self.tinyDirectory(name))
        let golden = try SafetensorsFile(path: Self.tinyDirectory(name) + "/golden.safetensors")
        let inputs = Array(try golden.integers("inputs").map { Int32($0) }.prefix(24))
        let reference = try golden.floats("logits"), V = model.config.vocabularySize
        let cache = model.makeCache(capacity: 32)
        var logits = try model.forward(Array(inputs[0..<10]), cache: cache, hiddenStates: nil, linearInputs: nil)
        #expect(cache.count == 10)
        for t in 10..<24 { logits += try model.forward([inputs[t]], cache: cache, hiddenStates: nil, linearInputs: nil) }
        #expect(cache.count == 24)
        let e = relativeDifference(logits[...], reference[0..<(24 * V)])
        #expect(e < Self.tolerance, "\(name): \(e)")
    }

    /// The GGUF's metadata is the config; llama.cpp names and Q/K order map to transformers'.
    @Test func smolLM2FamilyAndConfigFromGGUFMetadata() throws {
        let path = try Self.requireSmolLM2()
        let family = try #require(try ModelRegistry.family(config: path) as? LlamaFamily)
        let c = family.config
        #expect([c.layers, c.hiddenSize, c.heads, c.kvHeads, c.headDim, c.intermediateSize, c.vocabularySize, c.maxPositions] as [Int]
            == [30, 576, 9, 3, 64, 1536, 49152, 8192])
        #expect(c.tiedEmbeddings && !c.qkvBias && c.ropeTheta == 100_000 && Float(c.rmsNormEps) == 1e-5)
        // The directory holding only the .gguf names the same model.
        #expect((try ModelRegistry.family(config: FileSystem.directoryOf(path)) as? LlamaFamily)?.config == c)
        let source = LlamaGGUFSource(try GGUFReader(path: path), config: c)
        #expect(source.tensorNames == family.tensorLayout.map(\.name))
        for spec in family.tensorLayout { #expect(source.info(spec.name)?.shape.dims == spec.shape, "\(spec.name)") }
    }

    /// As a CausalLanguageModel: `logits(from:)` is the tail of a full pass; the GGUF's tokenizer gives the
    /// golden's ids (cut from data/text/evaluation.txt by transformers' GGUF tokenizer).
    @Test func causalLanguageModelConformance() throws {
        let model = try LlamaModel.load(Self.tinyDirectory("qwen2-tiny"))
        let tokens: [Int32] = [5, 9, 200, 3, 3, 77, 12]
        let full = try model.forward(tokens, cache: model.makeCache(capacity: 7), hiddenStates: nil, linearInputs: nil)
        let tail = try model.logits(tokens, from: 4, hiddenStates: nil, linearInputs: nil)
        #expect(tail[...] == full[(4 * 256)...])
        #expect(try model.logits(tokens, from: 7, hiddenStates: nil, linearInputs: nil).isEmpty)
        #expect(model.hiddenStateCount == 3)

        let smol = try LlamaModel.load(try Self.requireSmolLM2())
        let textPath = Fixtures.path("data/text/evaluation.txt")
        guard let text = FileManager.default.contents(atPath: textPath).flatMap({ String(data: $0, encoding: .utf8) }) else {
            throw ModelError.badRequest(flag: textPath, reason: "is missing: run tools/fetch_real.sh")
        }
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/llama/smollm2/golden.safetensors"))
        let inputs = try golden.integers("inputs").map { Int32($0) }
        let tokenizer = try smol.makeTokenizer()
        // Python slices by code point: the same offsets over unicode scalars.
        let scalars = Array(text.unicodeScalars)
        for (s, offset) in [20_000, 600_000].enumerated() {
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[offset..<(offset + 4000)])
            #expect(Array(tokenizer.encode(String(piece)).prefix(128)) == Array(inputs[(s * 128)..<((s + 1) * 128)]), "sequence \(s)")
        }
    }

    @Test func smolLM2MatchesTransformersOnRealText() throws {
        let model = try LlamaModel.load(try Self.requireSmolLM2())
        let c = model.config
        #expect([c.layers, c.hiddenSize, c.heads, c.kvHeads, c.headDim, c.intermediateSize, c.vocabularySize] as [Int] == [30, 576, 9, 3, 64, 1536, 49152])
        #expect(c.tiedEmbeddings && c.ropeTheta == 100_000)
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/llama/smollm2/golden.safetensors"))
        let inputs = try golden.integers("inputs").map { Int32($0) }
        let columns = try golden.integers("logits_columns").map { Int($0) }
        let positions = try golden.integers("hidden_positions").map { Int($0) }
        let logits = try golden.floats("logits"), lse = try golden.floats("logsumexp"), argmax = try golden.integers("argmax")
        let hidden = try golden.floats("hidden")
        let S = 2, T = 128, V = c.vocabularySize, H = c.hiddenSize, C = columns.count, P = positions.count
        #expect(inputs.count == S * T)
        var worstLogits = 0.0, worstHidden = 0.0, worstLSE = 0.0
        for s in 0..<S {
            let out = try Self.run(model, Array(inputs[(s * T)..<((s + 1) * T)]))
            let picked = (0..<T).flatMap { t in columns.map { out.logits[t * V + $0] } }
            worstLogits = max(worstLogits, relativeDifference(picked[...], logits[(s * T * C)..<((s + 1) * T * C)]))
            var ours = [Float]()
            for t in 0..<T {
                let row = out.logits[(t * V)..<((t + 1) * V)]
                let m = row.max()!
                ours.append(m + Float(log(row.reduce(0.0) { $0 + exp(Double($1 - m)) })))
                // The full-vocabulary argmax agrees, or the two candidates are within rounding of each other.
                let best = row.indices.max { row[$0] < row[$1] }! - t * V
                #expect(best == Int(argmax[s * T + t]) || abs(row[t * V + Int(argmax[s * T + t])] - m) < 1e-3,
                        "sequence \(s) position \(t): argmax \(best), transformers \(argmax[s * T + t])")
            }
            worstLSE = max(worstLSE, relativeDifference(ours[...], lse[(s * T)..<((s + 1) * T)]))
            for l in 0...c.layers {
                let ref = hidden[((l * S + s) * P * H)..<((l * S + s + 1) * P * H)]
                let mine = positions.flatMap { p in out.hidden[l][(p * H)..<((p + 1) * H)] }
                let e = relativeDifference(mine[...], ref)
                #expect(e < Self.tolerance, "sequence \(s) hidden state \(l): \(e)")
                worstHidden = max(worstHidden, e)
            }
        }
        #expect(worstLogits < Self.tolerance && worstLSE < Self.tolerance)
        print("smollm2: worst relative difference logits \(worstLogits), logsumexp \(worstLSE), hidden states \(worstHidden)")
    }

    // MARK: kernels against their scalar references

    @Test func kernelsMatchTheirScalarReferences() {
        var g = TestRandom(seed: 11)
        func random(_ n: Int, _ scale: Float = 1) -> [Float] { (0..<n).map { _ in Float.random(in: -scale...scale, using: &g) } }
        let rows = 37, n = 96
        let x = random(rows * n, 3), w = random(n)
        var a = [Float](repeating: 0, count: rows * n), b = a
        sk_rms_norm_weighted_rows(x, rows, n, 1e-5, w, &a)
        sk_rms_norm_weighted_rows_ref(x, rows, n, 1e-5, w, &b)
        #expect(relativeDifference(a[...], b[...]) < 1e-6)

        let d = 16, heads = 3, width = 80, start = 5
        let (cosT, sinT) = KVCache.ropeTables(positions: start + rows, headDim: d, theta: 10_000)
        var r1 = random(rows * width), r2 = r1
        sk_rope_heads(&r1, rows, width, heads, d, start, cosT, sinT)
        sk_rope_heads_ref(&r2, rows, width, heads, d, start, cosT, sinT)
        #expect(relativeDifference(r1[...], r2[...]) < 1e-6)
        #expect(r1[(heads * d)..<width] == r2[(heads * d)..<width])  // columns past the heads untouched

        let keys = start + rows, kvWidth = 40
        let q = random(rows * width, 2), k = random(keys * kvWidth, 2), v = random(keys * kvWidth)
        var o1 = [Float](repeating: 0, count: rows * d), o2 = o1
        var scratch = [Float](repeating: 0, count: sk_causal_attention_scratch(rows, start, d))
        sk_causal_attention_head(q, width, rows, start, k, v, kvWidth, d, 0.25, &o1, d, &scratch)
        sk_causal_attention_head_ref(q, width, rows, start, k, v, kvWidth, d, 0.25, &o2, d, &scratch)
        #expect(relativeDifference(o1[...], o2[...]) < 1e-5)

        let gu = random(rows * 2 * n, 6)
        var s1 = [Float](repeating: 0, count: rows * n), s2 = s1
        sk_swiglu_rows(gu, rows, n, &s1)
        sk_swiglu_rows_ref(gu, rows, n, &s2)
        #expect(relativeDifference(s1[...], s2[...]) < 1e-6)

        // A row read back from packed panels is the row.
        let wm = random(35 * 24)
        var packed = [Float](repeating: 0, count: sk_gemm_packed_count(35, 24))
        sk_gemm_pack(wm, 35, 24, 24, &packed)
        var row = [Float](repeating: 0, count: 24)
        for r in [0, 15, 16, 34] {
            sk_gemm_packed_row(packed, 35, 24, r, &row)
            #expect(row[...] == wm[(r * 24)..<((r + 1) * 24)])
        }
    }

    // MARK: config and errors

    @Test func configReadsBothTransformersSpellings() throws {
        let v4 = #"""
        {"model_type": "llama", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 256, "rope_theta": 500000.0, "rms_norm_eps": 1e-5, "torch_dtype": "bfloat16"}
        """#
        let c4 = try LlamaConfig(json: Data(v4.utf8), file: "v4.json")
        #expect(c4.ropeTheta == 500_000 && c4.dtype == .bf16 && c4.headDim == 16 && c4.kvDim == 32 && !c4.qkvBias && !c4.tiedEmbeddings)
        let c5 = try LlamaConfig(json: Data(contentsOf: URL(fileURLWithPath: Self.tinyDirectory("qwen2-tiny") + "/config.json")), file: "c")
        #expect(c5.ropeTheta == 10_000 && c5.rmsNormEps == 1e-6 && c5.qkvBias && c5.slidingWindow == nil)
        let scaled = v4.replacingOccurrences(of: #""rope_theta": 500000.0"#, with: #""rope_scaling": {"rope_type": "llama3", "factor": 8.0}"#)
        let c3 = try LlamaConfig(json: Data(scaled.utf8), file: "llama3.json")
        #expect(throws: ModelError.badConfig(file: "llama3.json", field: "rope_type", reason: "is 'llama3'; Shrink runs only the default RoPE (no scaling)")) {
            try c3.validateRunnable(file: "llama3.json")
        }
        let badHeads = v4.replacingOccurrences(of: #""num_key_value_heads": 2"#, with: #""num_key_value_heads": 3"#)
        #expect(throws: ModelError.badConfig(file: "b.json", field: "num_key_value_heads", reason: "must divide num_attention_heads 4, is 3")) {
            try LlamaConfig(json: Data(badHeads.utf8), file: "b.json")
        }
    }

    @Test func badRequestsAreTypedErrors() throws {
        let model = try LlamaModel.load(Self.tinyDirectory("llama-tiny"))
        let cache = model.makeCache(capacity: 4)
        #expect(throws: ModelError.badRequest(flag: "tokens", reason: "contain 256, outside the vocabulary 0..<256")) {
            try model.forward([1, 256], cache: cache, hiddenStates: nil, linearInputs: nil)
        }
        _ = try model.forward([1, 2, 3], cache: cache, hiddenStates: nil, linearInputs: nil)
        #expect(throws: ModelError.self) { try model.forward([1, 2], cache: cache, hiddenStates: nil, linearInputs: nil) }
        #expect(cache.count == 3)
    }

    /// A GGUF that says `llama` but lacks the hyper-parameters is a one-line error naming the file and the key.
    @Test func ggufWithoutHyperParametersNamesTheMissingKey() throws {
        let path = Fixtures.path("Tests/Fixtures/gguf/types.gguf")
        #expect(throws: FormatError.ggufMissingKey(file: path, key: "llama.embedding_length")) { try ModelRegistry.load(path) }
    }

    /// The layout is exactly the checkpoint's tensors; calibration sees every linear by its HF name.
    @Test func bindingAndObserversUseTransformersNames() throws {
        let dir = Self.tinyDirectory("qwen2-tiny")
        let family = try #require(try ModelRegistry.family(config: dir) as? LlamaFamily)
        let source = try Checkpoint.open(dir + "/model.safetensors")
        #expect(Set(source.tensorNames) == Set(family.tensorLayout.map(\.name)))
        let model = try LlamaModel.load(dir)
        #expect(model.parameterCount == source.parameterCount)
        final class Names: LinearInputObserver {
            var seen: [String: Int] = [:]
            func observe(layer: String, inputs: UnsafePointer<Float>, rows: Int, columns: Int) { seen[layer] = columns }
        }
        let names = Names()
        _ = try model.forward([3, 4, 5], cache: model.makeCache(capacity: 3), hiddenStates: nil, linearInputs: names)
        let linears = family.tensorLayout.filter { $0.role == .linear }
        #expect(names.seen.count == linears.count)
        for l in linears { #expect(names.seen[l.name] == l.shape[1], "\(l.name)") }
    }

    /// A directory `shrink quantize` made from the GGUF keeps no tokenizer.json: its tokenizer is the source GGUF's
    /// (shrink.json source.path), so `shrink eval DIR --text` works on it; without either, the error names the file.
    @Test func aCompressedGGUFDecoderReadsTheSourceTokenizer() throws {
        let path = try Self.requireSmolLM2()
        let tmp = TemporaryDirectory()
        let reader = try GGUFReader(path: path)
        var o = QuantizeOptions()
        o.include = #"model\.layers\.0\.self_attn\.q_proj\.weight"#
        let config = try LlamaConfig(gguf: reader)
        try QuantizeJob.run(LlamaGGUFSource(reader, config: config), options: o, outputDirectory: tmp.file("q"), calibrationSource: nil,
                            baseConfig: config.huggingFaceJSON)  // what `shrink quantize MODEL.gguf` writes
        #expect(!FileSystem.exists(tmp.file("q/tokenizer.json")) && Recipe.sourceGGUF(ofCompressed: tmp.file("q")) == path)
        let family = try #require(try ModelRegistry.family(config: tmp.file("q")) as? LlamaFamily)
        let text = "Anne Elliot, with an elegant little mind and a sweet character."
        #expect(try family.tokenizer(location: tmp.file("q")).encode(text) == ByteLevelBPETokenizer(ggufFile: path).encode(text))
        try FileManager.default.removeItem(atPath: tmp.file("q/shrink.json"))
        #expect(throws: TokenizerError.self) { try family.tokenizer(location: tmp.file("q")) }
    }
}

/// Throughput of one 512-token chunk with a fresh cache (the perplexity task's unit of work), run only when
/// SHRINK_BENCH_LLAMA is set (SHRINK_BENCH_MODEL: another model path), in a release build:
///     swift build -c release --build-tests -Xswiftc -target-cpu -Xswiftc native
///     SHRINK_BENCH_LLAMA=3 SHRINK_THREADS=2 /usr/bin/time -v swift test -c release --skip-build --filter LlamaBenchmark
@Suite struct LlamaBenchmark {
    static let chunks = ProcessInfo.processInfo.environment["SHRINK_BENCH_LLAMA"].flatMap { Int($0) }

    @Test(.enabled(if: chunks != nil)) func smolLM2ChunkOf512Tokens() throws {
        let path = try ProcessInfo.processInfo.environment["SHRINK_BENCH_MODEL"] ?? LlamaTests.requireSmolLM2()
        let clock = ContinuousClock()
        var model: LlamaModel?
        let bindTime = try clock.measure { model = try LlamaModel.load(path) }
        let m = try #require(model)
        /// VmRSS and VmHWM (peak) of this process, from /proc/self/status.
        func memory() -> String {
            let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
            return status.split(separator: "\n").filter { $0.hasPrefix("VmRSS") || $0.hasPrefix("VmHWM") }
                .map { $0.split(whereSeparator: \.isWhitespace).dropFirst().joined(separator: " ") }.joined(separator: " / peak ")
        }
        print("llama bench: after binding RSS \(memory())")
        let golden = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/llama/smollm2/golden.safetensors"))
        let ids = try golden.integers("inputs").map { Int32($0) }
        let tokens = Array((ids + ids).prefix(512))
        let cache = m.makeCache(capacity: 512)
        _ = try m.forward(tokens, cache: cache, hiddenStates: nil, linearInputs: nil, logitsFrom: 256)  // warm-up
        let n = max(1, Self.chunks ?? 1)
        // Process CPU time too: on a shared machine, tokens per CPU-second × threads is the uncontended rate.
        func cpuSeconds() -> Double {
            var u = rusage()
            getrusage(RUSAGE_SELF.rawValue, &u)
            return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) * 1e-6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) * 1e-6
        }
        let cpu0 = cpuSeconds()
        let elapsed = try clock.measure {
            for _ in 0..<n {
                cache.reset()
                // As the perplexity task runs a chunk: logits of the second half only.
                _ = try m.forward(tokens, cache: cache, hiddenStates: nil, linearInputs: nil, logitsFrom: 256)
            }
        }
        let cpu = cpuSeconds() - cpu0
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        print("llama bench: bind \(bindTime), \(n) chunks of 512 in \(seconds) s wall, \(cpu) s CPU: \(Double(n * 512) / seconds) tokens/s, "
              + "\(Double(n * 512) / cpu) tokens per CPU-second; RSS \(memory())")
    }
}
