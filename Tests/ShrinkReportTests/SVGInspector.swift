import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Reads the figures of a rendered page back: each plot's SVG parsed as XML (a parse failure is a test
/// failure), its text labels with estimated boxes, its series and the positions of their markers.
struct PlotSVG {
    struct Label { var text: String; var x: Double; var y: Double; var size: Double; var anchor: String; var rotated: Bool }
    struct SeriesGroup { var name: String; var declaredPoints: Int; var markers: [(x: Double, y: Double)] }

    var labels: [Label] = []
    var series: [SeriesGroup] = []
    var area: (x: Double, y: Double, width: Double, height: Double)?
    var viewBox: (width: Double, height: Double) = (0, 0)

    /// Every `<svg class="plot" …>…</svg>` of a page.
    static func all(in html: String) throws -> [PlotSVG] {
        var out: [PlotSVG] = []
        var rest = html[...]
        while let start = rest.range(of: "<svg class=\"plot\"") {
            guard let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) else { break }
            out.append(try PlotSVG(String(rest[start.lowerBound..<end.upperBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    init() {}

    init(_ svg: String) throws {
        let parser = XMLParser(data: Data(svg.utf8))
        let reader = Reader()
        parser.delegate = reader
        guard parser.parse() else { throw InspectError.notXML(String(describing: parser.parserError)) }
        self = reader.result
    }

    /// Label boxes at 0.6 em a character (rotated labels turned by 90°).
    func boxes() -> [(String, (x: Double, y: Double, w: Double, h: Double))] {
        labels.map { l in
            let w = Double(l.text.count) * l.size * 0.6, h = l.size
            var left = l.anchor == "middle" ? l.x - w / 2 : l.anchor == "end" ? l.x - w : l.x
            var box = (x: left, y: l.y - h * 0.8, w: w, h: h)
            if l.rotated {
                // rotate(-90 x y): the text runs upwards, centred (anchor middle) on y.
                left = l.y - w / 2
                box = (x: l.x - h * 0.8, y: left, w: h, h: w)
            }
            return (l.text, box)
        }
    }

    /// Pairs of labels whose boxes intersect.
    func overlaps() -> [(String, String)] {
        let b = boxes()
        var out: [(String, String)] = []
        for i in b.indices {
            for j in b.indices where j > i {
                let (p, q) = (b[i].1, b[j].1)
                if p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h { out.append((b[i].0, b[j].0)) }
            }
        }
        return out
    }

    enum InspectError: Error { case notXML(String) }

    final class Reader: NSObject, XMLParserDelegate {
        var result = PlotSVG()
        var textStack: [Label] = []
        var inTitle = 0
        var group: SeriesGroup?

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes a: [String: String] = [:]) {
            func d(_ k: String) -> Double { Double(a[k] ?? "") ?? .nan }
            switch name {
            case "svg" where a["class"] == "plot":
                let v = (a["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
                if v.count == 4 { result.viewBox = (v[2], v[3]) }
            case "rect" where a["class"] == "area": result.area = (d("x"), d("y"), d("width"), d("height"))
            case "g" where a["class"] == "series":
                group = SeriesGroup(name: a["data-name"] ?? "", declaredPoints: Int(a["data-points"] ?? "") ?? -1, markers: [])
            case "circle" where a["class"] == "m": group?.markers.append((d("cx"), d("cy")))
            case "rect" where group != nil:  // a marker, or a bar of a bar chart
                group?.markers.append((d("x") + d("width") / 2, d("y") + d("height") / 2))
            case "polygon" where group != nil && a["class"] == "m":
                let xy = (a["points"] ?? "").split(separator: " ").map { $0.split(separator: ",").compactMap { Double($0) } }.filter { $0.count == 2 }
                if !xy.isEmpty { group?.markers.append((xy.map { $0[0] }.reduce(0, +) / Double(xy.count), xy.map { $0[1] }.reduce(0, +) / Double(xy.count))) }
            case "text":
                textStack.append(Label(text: "", x: d("x"), y: d("y"), size: d("font-size"), anchor: a["text-anchor"] ?? "start",
                                       rotated: (a["transform"] ?? "").contains("rotate(-90")))
            case "title": inTitle += 1
            default: break
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if inTitle == 0, !textStack.isEmpty { textStack[textStack.count - 1].text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch name {
            case "text": if let l = textStack.popLast() { result.labels.append(l) }
            case "title": inTitle -= 1
            case "g": if let g = group { result.series.append(g); group = nil }
            default: break
            }
        }
    }
}
