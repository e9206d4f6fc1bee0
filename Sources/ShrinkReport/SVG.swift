import Foundation

/// Fixed formatting and escaping: every number in a page goes through here, so the same JSON gives the same bytes.
enum Text {
    static func fixed(_ v: Double, _ digits: Int) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "∞" : "−∞" }
        let s = String(format: "%.\(digits)f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s
    }
    /// An SVG coordinate: one decimal.
    static func c(_ v: Double) -> String { fixed(v, 1) }
    static func pct(_ v: Double, _ digits: Int = 2) -> String { fixed(100 * v, digits) + "%" }
    static func interval(_ e: Double, _ l: Double, _ u: Double, percent: Bool = true, digits: Int = 2) -> String {
        percent ? "\(pct(e, digits)) [\(fixed(100 * l, digits)), \(fixed(100 * u, digits))]"
            : "\(fixed(e, digits)) [\(fixed(l, digits)), \(fixed(u, digits))]"
    }
    static func p(_ p: Double) -> String { p < 1e-4 ? "< 1e-4" : String(format: "%.3g", p) }
    static func bytes(_ n: Int) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(n), u = 0
        while abs(v) >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(n) B" : fixed(v, abs(v) < 10 ? 2 : 1) + " " + units[u]
    }
    /// A tick label: the fewest decimals that tell the ticks apart.
    static func tick(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        if abs(v) >= 1e5 || abs(v) < 1e-3 {
            let e = Int(floor(log10(abs(v)))), m = v / pow(10, Double(e))
            return (abs(m - 1) < 1e-9 ? "" : fixed(m, 1) + "×") + "1e\(e)"
        }
        let digits = max(0, min(6, Int(ceil(-log10(step) - 1e-9))))
        return fixed(v, digits)
    }
    static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
    /// At most `max` characters, the middle replaced by "…" (tensor names differ at both ends).
    static func truncate(_ s: String, _ max: Int) -> String {
        guard s.count > max, max > 3 else { return s }
        let tail = (max - 1) * 2 / 3, head = max - 1 - tail
        return String(s.prefix(head)) + "…" + String(s.suffix(tail))
    }
    /// Estimated rendered width of a label: 0.6 em a character, a generous bound for sans-serif text.
    static func width(_ s: String, size: Double) -> Double { Double(s.count) * size * 0.6 }
}

/// Okabe & Ito's colour-blind-safe palette ("Color Universal Design", 2008), in an order whose neighbours
/// also differ in lightness; every series also gets its own marker and dash, so a grey print keeps them apart.
enum Style {
    static let colours = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
    static let dashes = ["", "6 3", "2 2", "8 3 2 3", "1 3", "10 4", "4 2 1 2", "12 2"]
    enum Marker: CaseIterable { case circle, square, triangle, diamond, triangleDown, plus, cross, star }

    static func colour(_ i: Int) -> String { colours[i % colours.count] }
    static func dash(_ i: Int) -> String { dashes[i % dashes.count] }
    static func marker(_ i: Int) -> Marker { Marker.allCases[i % Marker.allCases.count] }

    /// A marker centred at (x, y), radius r.
    static func markerSVG(_ m: Marker, x: Double, y: Double, r: Double, colour: String) -> String {
        let (X, Y) = (x, y)
        func pts(_ p: [(Double, Double)]) -> String { p.map { "\(Text.c(X + $0.0)),\(Text.c(Y + $0.1))" }.joined(separator: " ") }
        switch m {
        case .circle: return "<circle class=\"m\" cx=\"\(Text.c(X))\" cy=\"\(Text.c(Y))\" r=\"\(Text.c(r))\" fill=\"\(colour)\"/>"
        case .square: return "<rect class=\"m\" x=\"\(Text.c(X - r * 0.85))\" y=\"\(Text.c(Y - r * 0.85))\" width=\"\(Text.c(1.7 * r))\" height=\"\(Text.c(1.7 * r))\" fill=\"\(colour)\"/>"
        case .triangle: return "<polygon class=\"m\" points=\"\(pts([(0, -r * 1.1), (r, r * 0.8), (-r, r * 0.8)]))\" fill=\"\(colour)\"/>"
        case .triangleDown: return "<polygon class=\"m\" points=\"\(pts([(0, r * 1.1), (r, -r * 0.8), (-r, -r * 0.8)]))\" fill=\"\(colour)\"/>"
        case .diamond: return "<polygon class=\"m\" points=\"\(pts([(0, -r * 1.2), (r, 0), (0, r * 1.2), (-r, 0)]))\" fill=\"\(colour)\"/>"
        case .plus:
            let (a, w) = (r * 1.1, r * 0.38)
            return "<polygon class=\"m\" points=\"\(pts([(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w)]))\" fill=\"\(colour)\"/>"
        case .cross:
            // The plus turned by 45°.
            let (a, w) = (r * 1.1, r * 0.38)
            let arm: [(Double, Double)] = [(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w), (-a, -w), (-w, -w)]
            let k = 0.5.squareRoot()
            return "<polygon class=\"m\" points=\"\(pts(arm.map { (k * ($0.0 - $0.1), k * ($0.0 + $0.1)) }))\" fill=\"\(colour)\"/>"
        case .star:
            var p: [(Double, Double)] = []
            for k in 0..<10 {
                let a = Double.pi / 2 + Double(k) * Double.pi / 5, rr = k % 2 == 0 ? r * 1.2 : r * 0.5
                p.append((rr * cos(a), -rr * sin(a)))
            }
            return "<polygon class=\"m\" points=\"\(pts(p))\" fill=\"\(colour)\"/>"
        }
    }

    /// The legend swatch of a series: its dash and its marker, as a small inline SVG.
    static func swatch(_ i: Int, line: Bool = true, marker: Bool = true, bar: Bool = false) -> String {
        var s = "<svg class=\"sw\" viewBox=\"0 0 34 14\" width=\"34\" height=\"14\" aria-hidden=\"true\">"
        if bar {
            s += "<rect x=\"3\" y=\"2\" width=\"28\" height=\"10\" fill=\"\(colour(i))\"\(barPattern(i))/>"
        } else {
            if line {
                s += "<line x1=\"1\" y1=\"7\" x2=\"33\" y2=\"7\" stroke=\"\(colour(i))\" stroke-width=\"2\"" + (dash(i).isEmpty ? "" : " stroke-dasharray=\"\(dash(i))\"") + "/>"
            }
            if marker { s += markerSVG(self.marker(i), x: 17, y: 7, r: 4, colour: colour(i)) }
        }
        return s + "</svg>"
    }

    /// Bars told apart in grey too: every other colour index gets a lighter fill opacity.
    static func barPattern(_ i: Int) -> String { i % 2 == 1 ? " fill-opacity=\"0.6\"" : "" }
}

/// A numeric axis: linear or log, its range and its ticks.
struct Axis {
    enum Scale { case linear, log }
    var label: String
    var scale: Scale = .linear
    var lower: Double
    var upper: Double
    var ticks: [(value: Double, label: String)]

    /// Nice ticks (1, 2, 5 × 10^k; Heckbert, "Nice numbers for graph labels", Graphics Gems 1990) covering
    /// `values`, padded by a little; `include` values are forced into the range (0 or 1 for fractions).
    static func linear(_ label: String, values: [Double], include: [Double] = [], target: Int = 6,
                       format: ((Double, Double) -> String)? = nil, clamp: ClosedRange<Double>? = nil) -> Axis {
        let finite = (values + include).filter(\.isFinite)
        var lo = finite.min() ?? 0, hi = finite.max() ?? 1
        if hi - lo < 1e-12 { lo -= max(abs(lo) * 0.05, 0.5); hi += max(abs(hi) * 0.05, 0.5) }
        let pad = (hi - lo) * 0.04
        if !include.contains(lo) { lo -= pad }
        if !include.contains(hi) { hi += pad }
        if let clamp { lo = max(lo, clamp.lowerBound); hi = min(hi, clamp.upperBound) }
        let step = nice((hi - lo) / Double(max(1, target - 1)))
        let first = (lo / step).rounded(.down) * step, last = (hi / step).rounded(.up) * step
        var ticks: [(Double, String)] = []
        var v = first
        while v <= last + step * 1e-6 {
            let t = abs(v) < step * 1e-9 ? 0 : v
            ticks.append((t, format?(t, step) ?? Text.tick(t, step: step)))
            v += step
        }
        return Axis(label: label, scale: .linear, lower: first, upper: last, ticks: ticks)
    }

    static func nice(_ x: Double) -> Double {
        guard x > 0, x.isFinite else { return 1 }
        let e = floor(log10(x)), f = x / pow(10, e)
        let n: Double = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10
        return n * pow(10, e)
    }

    /// A log axis from the 1-2-5 step at or below the smallest positive value to the one at or above the
    /// largest; ticks at 1, 2 and 5 × 10^k while they span at most three decades, at powers of ten beyond.
    static func log(_ label: String, values: [Double], format: ((Double) -> String)? = nil) -> Axis {
        let positive = values.filter { $0 > 0 && $0.isFinite }
        let lo = positive.min() ?? 1, hi = max(positive.max() ?? 10, lo * 1.5)
        func steps(_ e: Int) -> [Double] { [1.0, 2, 5].map { $0 * pow(10, Double(e)) } }
        let e0 = Int(floor(log10(lo))) - 1, e1 = Int(ceil(log10(hi))) + 1
        let grid = (e0...e1).flatMap(steps)
        let lower = grid.last { $0 <= lo * (1 + 1e-9) } ?? lo, upper = grid.first { $0 >= hi * (1 - 1e-9) } ?? hi
        let fine = log10(upper / lower) <= 3.0001
        let ticks = grid.filter { $0 >= lower * (1 - 1e-9) && $0 <= upper * (1 + 1e-9) }
            .filter { fine || abs(log10($0) - log10($0).rounded()) < 1e-9 }
        return Axis(label: label, scale: .log, lower: lower, upper: upper, ticks: ticks.map { ($0, format?($0) ?? Text.tick($0, step: $0)) })
    }

    /// Position of v in [0, 1] along the axis.
    func unit(_ v: Double) -> Double {
        switch scale {
        case .linear: return (v - lower) / (upper - lower)
        case .log: return (Foundation.log10(max(v, lower * 1e-3)) - Foundation.log10(lower)) / (Foundation.log10(upper) - Foundation.log10(lower))
        }
    }

    func contains(_ v: Double) -> Bool { v >= lower - 1e-12 * abs(lower) && v <= upper + 1e-12 * abs(upper) }
}

/// One series of an x–y chart.
struct Series {
    struct Point {
        var x: Double
        var y: Double
        var lower: Double?
        var upper: Double?
        /// The point's own name (a tooltip; and a visible label where the chart labels points).
        var name: String?
        init(x: Double, y: Double, lower: Double? = nil, upper: Double? = nil, name: String? = nil) {
            self.x = x; self.y = y; self.lower = lower; self.upper = upper; self.name = name
        }
    }
    enum Interval { case none, band, bars }
    var name: String
    var style: Int
    var points: [Point]
    var line = true
    var markers = true
    var interval: Interval = .none
    /// Drawn as steps (across, then up): what the best of the points achieves up to each x.
    var step = false
}

/// A dashed horizontal reference (an FP32 level) or vertical one (a capacity).
struct Reference {
    var value: Double
    var label: String
    var horizontal = true
}

/// A label box in SVG user units, for layout and for the overlap tests.
struct Box: Equatable {
    var x: Double, y: Double, width: Double, height: Double
    func intersects(_ o: Box) -> Bool {
        x < o.x + o.width && o.x < x + width && y < o.y + o.height && o.y < y + height
    }
    static func text(_ s: String, x: Double, y: Double, size: Double, anchor: String) -> Box {
        let w = Text.width(s, size: size)
        let left = anchor == "middle" ? x - w / 2 : anchor == "end" ? x - w : x
        return Box(x: left, y: y - size * 0.8, width: w, height: size)
    }
}

/// An x–y chart drawn as one SVG in a fixed viewBox (it scales with the page; nothing moves relative to
/// anything else, so what does not overlap in user units does not overlap at any width).
struct XYChart {
    var x: Axis
    var y: Axis
    var series: [Series]
    var references: [Reference] = []
    /// Point names drawn as numbered labels ("1", "2", …) placed clear of every other label.
    var numbered: [(x: Double, y: Double)] = []
    var width = 800.0
    var height = 380.0
    var title: String

    static let fontSize = 12.0
    var left: Double { 20 + Self.fontSize + 8 + (y.ticks.map { Text.width($0.label, size: Self.fontSize) }.max() ?? 20) }
    /// Room for half the last x tick label.
    var right: Double { width - max(24, (x.ticks.last.map { Text.width($0.label, size: Self.fontSize) } ?? 0) / 2 + 6) }
    var top: Double { 14 }
    var bottom: Double { height - 50 }

    func px(_ v: Double) -> Double { left + x.unit(v) * (right - left) }
    func py(_ v: Double) -> Double { bottom - y.unit(v) * (bottom - top) }

    /// x tick labels thinned until they are clear of each other.
    func xTicks() -> [(value: Double, label: String)] {
        var ticks = x.ticks
        while ticks.count > 2 {
            let boxes = ticks.map { Box.text($0.label, x: px($0.value), y: bottom + 18, size: Self.fontSize, anchor: "middle") }
            if zip(boxes, boxes.dropFirst()).allSatisfy({ $0.x + $0.width + 6 < $1.x }) { break }
            ticks = ticks.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        }
        return ticks
    }

    func render() -> String {
        let f = Self.fontSize
        var s = "<svg class=\"plot\" viewBox=\"0 0 \(Text.c(width)) \(Text.c(height))\" role=\"img\" aria-label=\"\(Text.escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        s += "<rect class=\"area\" x=\"\(Text.c(left))\" y=\"\(Text.c(top))\" width=\"\(Text.c(right - left))\" height=\"\(Text.c(bottom - top))\" fill=\"#ffffff\" stroke=\"#bbbbbb\"/>"
        var labels: [Box] = []
        // Grid and ticks.
        for t in y.ticks {
            let Y = py(t.value)
            s += "<line x1=\"\(Text.c(left))\" y1=\"\(Text.c(Y))\" x2=\"\(Text.c(right))\" y2=\"\(Text.c(Y))\" stroke=\"#e4e4e4\"/>"
            s += "<text x=\"\(Text.c(left - 6))\" y=\"\(Text.c(Y + f * 0.35))\" text-anchor=\"end\" font-size=\"\(Text.c(f))\">\(Text.escape(t.label))</text>"
            labels.append(.text(t.label, x: left - 6, y: Y + f * 0.35, size: f, anchor: "end"))
        }
        for t in xTicks() {
            let X = px(t.value)
            s += "<line x1=\"\(Text.c(X))\" y1=\"\(Text.c(top))\" x2=\"\(Text.c(X))\" y2=\"\(Text.c(bottom))\" stroke=\"#e4e4e4\"/>"
            s += "<text x=\"\(Text.c(X))\" y=\"\(Text.c(bottom + 18))\" text-anchor=\"middle\" font-size=\"\(Text.c(f))\">\(Text.escape(t.label))</text>"
            labels.append(.text(t.label, x: X, y: bottom + 18, size: f, anchor: "middle"))
        }
        // Axis labels: x centred below, y rotated at the left edge.
        s += "<text x=\"\(Text.c((left + right) / 2))\" y=\"\(Text.c(height - 10))\" text-anchor=\"middle\" font-size=\"\(Text.c(f + 1))\">\(Text.escape(x.label))</text>"
        let yc = (top + bottom) / 2
        // The y label runs along the plot's height: shortened with "…" where it would run past it.
        let yLabel = Text.truncate(y.label, Int((bottom - top + 20) / ((f + 1) * 0.6)))
        s += "<text x=\"\(Text.c(18))\" y=\"\(Text.c(yc))\" text-anchor=\"middle\" font-size=\"\(Text.c(f + 1))\" transform=\"rotate(-90 18 \(Text.c(yc)))\"><title>\(Text.escape(y.label))</title>\(Text.escape(yLabel))</text>"
        labels.append(.text(x.label, x: (left + right) / 2, y: height - 10, size: f + 1, anchor: "middle"))
        // References.
        for r in references {
            if r.horizontal {
                let Y = py(r.value)
                s += "<line x1=\"\(Text.c(left))\" y1=\"\(Text.c(Y))\" x2=\"\(Text.c(right))\" y2=\"\(Text.c(Y))\" stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
                let box = Box.text(r.label, x: right - 4, y: Y - 4, size: f - 1, anchor: "end")
                s += "<text x=\"\(Text.c(right - 4))\" y=\"\(Text.c(Y - 4))\" text-anchor=\"end\" font-size=\"\(Text.c(f - 1))\" fill=\"#333333\">\(Text.escape(r.label))</text>"
                labels.append(box)
            } else {
                let X = px(r.value)
                s += "<line x1=\"\(Text.c(X))\" y1=\"\(Text.c(top))\" x2=\"\(Text.c(X))\" y2=\"\(Text.c(bottom))\" stroke=\"#555555\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
                s += "<text x=\"\(Text.c(X - 4))\" y=\"\(Text.c(top + 14))\" text-anchor=\"end\" font-size=\"\(Text.c(f - 1))\" fill=\"#333333\">\(Text.escape(r.label))</text>"
                labels.append(.text(r.label, x: X - 4, y: top + 14, size: f - 1, anchor: "end"))
            }
        }
        // Series: bands first, then lines, then markers on top.
        for se in series where se.interval == .band {
            let pts = se.points.filter { $0.lower != nil && $0.upper != nil }
            guard pts.count >= 2 else { continue }
            let upper = pts.map { "\(Text.c(px($0.x))),\(Text.c(py($0.upper!)))" }
            let lower = pts.reversed().map { "\(Text.c(px($0.x))),\(Text.c(py($0.lower!)))" }
            s += "<polygon class=\"band\" points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(Style.colour(se.style))\" fill-opacity=\"0.14\"/>"
        }
        for se in series {
            s += "<g class=\"series\" data-name=\"\(Text.escape(se.name))\" data-points=\"\(se.points.count)\">"
            if se.interval == .bars {
                for p in se.points {
                    guard let lo = p.lower, let hi = p.upper else { continue }
                    let X = px(p.x)
                    s += "<path d=\"M\(Text.c(X)) \(Text.c(py(lo)))V\(Text.c(py(hi)))M\(Text.c(X - 4)) \(Text.c(py(lo)))H\(Text.c(X + 4))M\(Text.c(X - 4)) \(Text.c(py(hi)))H\(Text.c(X + 4))\" stroke=\"\(Style.colour(se.style))\" stroke-width=\"1.3\" fill=\"none\"/>"
                }
            }
            if se.line && se.points.count >= 2 {
                let d = se.points.enumerated().map { i, p in
                    i == 0 ? "M\(Text.c(px(p.x))) \(Text.c(py(p.y)))"
                        : se.step ? "H\(Text.c(px(p.x)))V\(Text.c(py(p.y)))" : "L\(Text.c(px(p.x))) \(Text.c(py(p.y)))"
                }.joined()
                let dash = Style.dash(se.style)
                s += "<path d=\"\(d)\" stroke=\"\(Style.colour(se.style))\" stroke-width=\"2\" fill=\"none\"" + (dash.isEmpty ? "" : " stroke-dasharray=\"\(dash)\"") + "/>"
            }
            if se.markers {
                for p in se.points {
                    s += Style.markerSVG(Style.marker(se.style), x: px(p.x), y: py(p.y), r: 4.5, colour: Style.colour(se.style))
                }
            }
            s += "</g>"
        }
        // Numbered labels: the first of eight spots around the point that is clear of every label so far.
        let markers = numbered.map { Box(x: px($0.x) - 5, y: py($0.y) - 5, width: 10, height: 10) }
        for (i, p) in numbered.enumerated() {
            let text = "\(i + 1)", X = px(p.x), Y = py(p.y)
            let spots = [(8.0, -6.0), (8, 14), (-8, -6), (-8, 14), (0, -10), (0, 20), (14, 4), (-14, 4)]
            for (dx, dy) in spots {
                let anchor = dx > 0 ? "start" : dx < 0 ? "end" : "middle"
                let box = Box.text(text, x: X + dx, y: Y + dy, size: f, anchor: anchor)
                let inside = box.x >= left && box.x + box.width <= right && box.y >= top && box.y + box.height <= bottom
                if inside && !labels.contains(where: box.intersects) && !markers.enumerated().contains(where: { $0.offset != i && $0.element.intersects(box) }) {
                    s += "<text class=\"num\" x=\"\(Text.c(X + dx))\" y=\"\(Text.c(Y + dy))\" text-anchor=\"\(anchor)\" font-size=\"\(Text.c(f))\" font-weight=\"bold\">\(text)</text>"
                    labels.append(box)
                    break
                }
            }
        }
        return s + "</svg>"
    }
}

/// Horizontal bars, one row per item (tensor names, budget lines), segments stacked left to right.
struct BarChart {
    struct Row {
        var label: String
        /// (value, style index); stacked.
        var segments: [(value: Double, style: Int)]
        /// Text after the bar (the value, a granularity).
        var note: String = ""
    }
    var x: Axis
    var rows: [Row]
    var references: [Reference] = []
    var width = 800.0
    var rowHeight = 20.0
    var title: String
    static let fontSize = 12.0
    static let maxLabel = 44

    var labelWidth: Double { (rows.map { Text.width(Text.truncate($0.label, Self.maxLabel), size: Self.fontSize) }.max() ?? 40) + 16 }
    var noteWidth: Double { (rows.map { Text.width($0.note, size: Self.fontSize - 1) }.max() ?? 0) + 12 }
    var left: Double { labelWidth }
    var right: Double { width - max(24, noteWidth) }
    var top: Double { 22 }
    var height: Double { top + Double(rows.count) * rowHeight + 52 }
    var bottom: Double { top + Double(rows.count) * rowHeight }
    func px(_ v: Double) -> Double { left + x.unit(v) * (right - left) }

    func render() -> String {
        let f = Self.fontSize
        var s = "<svg class=\"plot\" viewBox=\"0 0 \(Text.c(width)) \(Text.c(height))\" role=\"img\" aria-label=\"\(Text.escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        s += "<rect class=\"area\" x=\"\(Text.c(left))\" y=\"\(Text.c(top))\" width=\"\(Text.c(right - left))\" height=\"\(Text.c(bottom - top))\" fill=\"#ffffff\" stroke=\"#bbbbbb\"/>"
        var ticks = x.ticks
        while ticks.count > 2 {
            let boxes = ticks.map { Box.text($0.label, x: px($0.value), y: bottom + 18, size: f, anchor: "middle") }
            if zip(boxes, boxes.dropFirst()).allSatisfy({ $0.x + $0.width + 6 < $1.x }) { break }
            ticks = ticks.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)
        }
        for t in ticks {
            let X = px(t.value)
            s += "<line x1=\"\(Text.c(X))\" y1=\"\(Text.c(top))\" x2=\"\(Text.c(X))\" y2=\"\(Text.c(bottom))\" stroke=\"#e4e4e4\"/>"
            s += "<text x=\"\(Text.c(X))\" y=\"\(Text.c(bottom + 18))\" text-anchor=\"middle\" font-size=\"\(Text.c(f))\">\(Text.escape(t.label))</text>"
        }
        s += "<text x=\"\(Text.c((left + right) / 2))\" y=\"\(Text.c(height - 10))\" text-anchor=\"middle\" font-size=\"\(Text.c(f + 1))\">\(Text.escape(x.label))</text>"
        s += "<g class=\"series\" data-name=\"bars\" data-points=\"\(rows.count)\">"
        for (i, r) in rows.enumerated() {
            let y0 = top + Double(i) * rowHeight
            let shown = Text.truncate(r.label, Self.maxLabel)
            s += "<text x=\"\(Text.c(left - 8))\" y=\"\(Text.c(y0 + rowHeight * 0.5 + f * 0.35))\" text-anchor=\"end\" font-size=\"\(Text.c(f))\"><title>\(Text.escape(r.label))</title>\(Text.escape(shown))</text>"
            var acc = x.scale == .log ? x.lower : 0.0
            for seg in r.segments where seg.value > 0 {
                let (a, b) = (px(acc), px(x.scale == .log ? seg.value : acc + seg.value))
                s += "<rect x=\"\(Text.c(a))\" y=\"\(Text.c(y0 + 3))\" width=\"\(Text.c(max(1.5, b - a)))\" height=\"\(Text.c(rowHeight - 6))\" fill=\"\(Style.colour(seg.style))\"\(Style.barPattern(seg.style)) stroke=\"#ffffff\" stroke-width=\"0.5\"/>"
                acc = x.scale == .log ? seg.value : acc + seg.value
            }
            if !r.note.isEmpty {
                s += "<text x=\"\(Text.c(right + 6))\" y=\"\(Text.c(y0 + rowHeight * 0.5 + f * 0.35))\" font-size=\"\(Text.c(f - 1))\">\(Text.escape(r.note))</text>"
            }
        }
        s += "</g>"
        for ref in references {
            let X = px(ref.value)
            s += "<line x1=\"\(Text.c(X))\" y1=\"\(Text.c(top - 4))\" x2=\"\(Text.c(X))\" y2=\"\(Text.c(bottom))\" stroke=\"#333333\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\"/>"
            s += "<text x=\"\(Text.c(X))\" y=\"\(Text.c(top - 8))\" text-anchor=\"middle\" font-size=\"\(Text.c(f - 1))\">\(Text.escape(ref.label))</text>"
        }
        return s + "</svg>"
    }
}
