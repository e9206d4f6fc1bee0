import Foundation
import ShrinkFormats
import ShrinkTensor
import ShrinkTestSupport
import Testing

/// The broken and hostile files of Tests/Fixtures/hostile (tools/make_hostile_corpus.py).
struct HostileCase: Decodable, Sendable, CustomTestStringConvertible {
    var file: String
    var stage: String
    var expectedErrorSubstringHint: String
    var description: String

    var testDescription: String { file }
    var path: String {
        let p = Fixtures.path("Tests/Fixtures/hostile/" + file)
        return p.hasSuffix("/") ? String(p.dropLast()) : p
    }

    static let all: [HostileCase] = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try! d.decode([HostileCase].self, from: Data(fileBytes(Fixtures.path("Tests/Fixtures/hostile/cases.json"))))
    }()
}

@Suite struct HostileCorpusTests {
    @Test func corpusCoversEveryCaseTheIssueLists() {
        #expect(HostileCase.all.count >= 25)
    }

    @Test(arguments: HostileCase.all.filter { $0.stage == "open" })
    func openingIsRefusedWithAMessageNamingTheFile(_ c: HostileCase) {
        do {
            let s = try Checkpoint.open(c.path)
            Issue.record("\(c.file) opened with \(s.tensorNames.count) tensors; expected: \(c.description)")
        } catch let e as UserFacingError {
            #expect(e.description.contains(FileSystem.lastComponent(c.path)) || e.description.contains(c.path), "\(e)")
            #expect(e.description.lowercased().contains(c.expectedErrorSubstringHint.lowercased()), "\(c.file): \(e)")
            #expect(!e.description.contains("\n"))
        } catch {
            Issue.record("\(c.file): unexpected error type \(type(of: error)): \(error)")
        }
    }
}

@Suite struct ShardedAndDTypeTests {
    @Test func shardedCheckpointReadsLikeTheSingleFileReference() throws {
        let sharded = try Checkpoint.open(Fixtures.path("Tests/Fixtures/sharded"))
        let reference = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/sharded_reference.safetensors"))
        #expect(sharded is ShardedCheckpoint)
        #expect(sharded.tensorNames == reference.tensorNames)
        for name in reference.tensorNames {
            #expect(sharded.info(name) == reference.info(name))
            #expect(Array(try sharded.rawBytes(name)) == Array(try reference.rawBytes(name)), "\(name)")
        }
    }

    @Test func everyDTypeDecodesToTheValuesNumPyWrote() throws {
        let f = try SafetensorsFile(path: Fixtures.path("Tests/Fixtures/dtypes.safetensors"))
        let expected = try JSONSerialization.jsonObject(with: Data(fileBytes(Fixtures.path("Tests/Fixtures/dtypes.json")))) as! [String: [String: Any]]
        for (name, entry) in expected {
            let values = try f.floats(name)
            let want = (entry["values"] as! [Any]).flatMap { v -> [Any] in (v as? [Any]) ?? [v] }
            #expect(values.count == want.count, "\(name)")
            for (got, w) in zip(values, want) {
                switch w {
                case let s as String where s == "nan": #expect(got.isNaN, "\(name)")
                case let s as String where s == "inf": #expect(got == .infinity, "\(name)")
                case let s as String where s == "-inf": #expect(got == -.infinity, "\(name)")
                case let s as String where s == "-0.0": #expect(got == 0 && got.sign == .minus, "\(name)")
                case let b as Bool: #expect(got == (b ? 1 : 0), "\(name)")
                case let n as NSNumber: #expect(got == Float(n.doubleValue), "\(name): \(got) vs \(n)")
                default: Issue.record("\(name): unexpected expected value \(w)")
                }
            }
        }
    }
}
