import Foundation

/// One view: a chart, its legend, a caption that states its numbers, and the table behind it.
struct Figure {
    var id: String
    var title: String
    var svg: String
    /// (style index, name, kind of swatch).
    var legend: [(style: Int, name: String, swatch: Swatch)] = []
    var caption: String
    var table: Table

    enum Swatch { case line, marker, bar, lineOnly, reference }

    func html() -> String {
        var s = "<figure id=\"\(Text.escape(id))\">\n<h3>\(Text.escape(title))</h3>\n\(svg)\n"
        if !legend.isEmpty {
            s += "<ul class=\"legend\">"
            for l in legend {
                let sw: String
                switch l.swatch {
                case .line: sw = Style.swatch(l.style)
                case .lineOnly: sw = Style.swatch(l.style, marker: false)
                case .marker: sw = Style.swatch(l.style, line: false)
                case .bar: sw = Style.swatch(l.style, bar: true)
                case .reference:
                    sw = "<svg class=\"sw\" viewBox=\"0 0 34 14\" width=\"34\" height=\"14\" aria-hidden=\"true\"><line x1=\"1\" y1=\"7\" x2=\"33\" y2=\"7\" stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/></svg>"
                }
                s += "<li>\(sw)\(Text.escape(l.name))</li>"
            }
            s += "</ul>\n"
        }
        s += "<figcaption>\(Text.escape(caption))</figcaption>\n"
        s += table.html() + "</figure>\n"
        return s
    }
}

struct Table {
    var header: [String]
    var rows: [[String]]
    /// Columns right-aligned (numbers).
    var numeric: Set<Int> = []

    func html() -> String {
        var s = "<details><summary>Table (\(rows.count) row\(rows.count == 1 ? "" : "s"))</summary><div class=\"scroll\"><table>\n<thead><tr>"
        s += header.map { "<th>\(Text.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for r in rows {
            s += "<tr>" + r.enumerated().map { i, c in numeric.contains(i) ? "<td class=\"n\">\(Text.escape(c))</td>" : "<td>\(Text.escape(c))</td>" }.joined() + "</tr>\n"
        }
        return s + "</tbody></table></div></details>\n"
    }
}

/// A section of the page: one input, or a view drawn from several.
struct Section {
    var id: String
    var title: String
    var intro: String
    var figures: [Figure]

    func html() -> String {
        var s = "<section id=\"\(Text.escape(id))\">\n<h2>\(Text.escape(title))</h2>\n"
        if !intro.isEmpty { s += "<p>\(Text.escape(intro))</p>\n" }
        return s + figures.map { $0.html() }.joined() + "</section>\n"
    }
}

enum Page {
    /// System fonts only: nothing is fetched. SVGs scale to the column (viewBox, width 100%); legends and
    /// tables wrap or scroll inside their box, so the page reads at 800 px as at 1280 px.
    static let css = """
    body{margin:0;background:#fafafa;color:#111;font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;line-height:1.45}
    main{max-width:1040px;margin:0 auto;padding:8px 20px 40px}
    h1{font-size:1.5em;margin:16px 0 4px}h2{font-size:1.25em;margin:28px 0 6px;border-bottom:1px solid #ccc}h3{font-size:1.02em;margin:0 0 6px}
    p,figcaption,li,td,th,summary{overflow-wrap:anywhere}
    nav ul{padding-left:18px;margin:4px 0}
    figure{margin:14px 0 22px;padding:12px;background:#fff;border:1px solid #ddd;border-radius:4px}
    svg.plot{display:block;width:100%;height:auto;max-width:880px;margin:0 auto;font-family:inherit}
    svg.plot text{fill:#222}
    ul.legend{display:flex;flex-wrap:wrap;gap:4px 18px;list-style:none;padding:0;margin:8px 0;font-size:.9em}
    ul.legend li{display:flex;align-items:center;gap:6px}
    svg.sw{flex:none}
    figcaption{font-size:.92em;color:#333;margin:6px 0}
    details{margin-top:6px}summary{cursor:pointer;font-size:.9em;color:#0050a0}
    div.scroll{overflow-x:auto;max-width:100%}
    table{border-collapse:collapse;font-size:.85em;margin-top:6px}
    th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
    th{background:#f0f0f0}
    .meta{color:#444;font-size:.9em}
    """

    static func html(title: String, intro: [String], sections: [Section]) -> String {
        var s = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        s += "<title>\(Text.escape(title))</title>\n<style>\n\(css)\n</style>\n</head>\n<body>\n<main>\n"
        s += "<h1>\(Text.escape(title))</h1>\n"
        for p in intro { s += "<p class=\"meta\">\(Text.escape(p))</p>\n" }
        if sections.count > 1 {
            s += "<nav><ul>" + sections.map { "<li><a href=\"#\(Text.escape($0.id))\">\(Text.escape($0.title))</a></li>" }.joined() + "</ul></nav>\n"
        }
        s += sections.map { $0.html() }.joined()
        return s + "</main>\n</body>\n</html>\n"
    }
}
