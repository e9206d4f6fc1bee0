import Foundation
import ShrinkFormats
import ShrinkTestSupport
import Testing

/// The malformed GGUF files of Tests/Fixtures/hostile/gguf (tools/make_hostile_gguf.py).
struct HostileGGUFCase: Decodable, Sendable, CustomTestStringConvertible {
    var file: String
    var stage: String
    var expectedErrorSubstringHint: String
    var description: String

    var testDescription: String { file }
    var path: String { Fixtures.path("Tests/Fixtures/hostile/gguf/" + file) }

    static let all: [HostileGGUFCase] = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return (try? d.decode([HostileGGUFCase].self, from: Data(fileBytes(Fixtures.path("Tests/Fixtures/hostile/gguf/cases.json"))))) ?? []
    }()
}

@Suite struct HostileGGUFCorpusTests {
    @Test func corpusHoldsEveryCaseTheScriptWrites() {
        // bad magic/version, truncation in header/metadata/tensor infos/data, absurd counts and lengths,
        // zero and overflowing dims, bad offsets, unknown types, duplicates: 46 files.
        #expect(HostileGGUFCase.all.count == 46)
        let onDisk = FileSystem.list(Fixtures.path("Tests/Fixtures/hostile/gguf")).filter { $0.hasSuffix(".gguf") }
        #expect(Set(onDisk) == Set(HostileGGUFCase.all.map(\.file)))
    }

    @Test(arguments: HostileGGUFCase.all)
    func openingIsRefusedWithOneLineNamingTheFileAndTheItem(_ c: HostileGGUFCase) {
        do {
            let s = try Checkpoint.open(c.path)
            Issue.record("\(c.file) opened with \(s.tensorNames.count) tensors; expected: \(c.description)")
        } catch let e as FormatError {
            #expect(e.description.hasPrefix(c.path + ": "), "\(e)")
            // The hint must be in what is said about the file, not in its name.
            #expect(e.description.dropFirst(c.path.count).contains(c.expectedErrorSubstringHint), "\(c.file): \(e)")
            #expect(!e.description.contains("\n"))
        } catch {
            Issue.record("\(c.file): unexpected error type \(type(of: error)): \(error)")
        }
    }
}
