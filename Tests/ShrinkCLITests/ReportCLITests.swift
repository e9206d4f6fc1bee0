import Foundation
import ShrinkTestSupport
import Testing

/// `shrink report` and `shrink compare --html` from the command line.
@Suite struct ReportCLITests {
    /// The page `compare --html` writes equals the page `shrink report` draws from the JSON the same run printed:
    /// the JSON carries everything the page shows.
    @Test func compareHTMLEqualsTheReportOfItsJSON() throws {
        let model = Fixtures.path("Tests/Fixtures/tiny/trm-rope-puzzle-emb")
        let dir = TemporaryDirectory()
        let q = try CLI.run(["quantize", model, "-o", dir.file("q"), "--bits", "4", "--quiet"])
        #expect(q.status == 0, "\(q.stderr)")
        let c = try CLI.run(["compare", model, dir.file("q"), "--data", model + "/data.safetensors", "--json", "--html", dir.file("direct.html")])
        #expect(c.status == 0, "\(c.stderr)")
        try c.stdout.write(toFile: dir.file("q.json"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["report", dir.file("q.json"), "-o", dir.file("report.html")])
        #expect(r.status == 0, "\(r.stderr)")
        let direct = fileBytes(dir.file("direct.html")), drawn = fileBytes(dir.file("report.html"))
        #expect(!direct.isEmpty && direct == drawn)
        #expect(String(decoding: direct, as: UTF8.self).contains("Carry-trajectory fidelity by step"))
    }

    @Test func badInputIsOneLineAndWritesNothing() throws {
        let dir = TemporaryDirectory()
        try "{\"rows\": []}".write(toFile: dir.file("x.json"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["report", Fixtures.path("study/trm_att_sudoku6.json"), dir.file("x.json"), "-o", dir.file("out.html")])
        #expect(r.status == 1)
        #expect(r.stderr == "shrink: error: \(dir.file("x.json")): not a Shrink result (none of the keys that mark eval, compare, sweep, plan or \"kind\": \"points\"); see `shrink report --help`\n")
        #expect(!FileManager.default.fileExists(atPath: dir.file("out.html")))
    }
}
