import Foundation
import ShrinkEval
import ShrinkPlan
import ShrinkQuant

/// Views of one `shrink plan`: the device budget against its capacity, and the recipe chosen for each tensor.
enum PlanViews {
    static func section(_ p: Planner.Plan, name: String, id: String) -> Section {
        var intro = p.verdict + "."
        for m in p.models {
            intro += " \(m.name) (\(m.family), \(m.parameters) parameters): \(m.steps) supervision steps"
            if let me = m.measurement {
                intro += ", measured exact \(Text.interval(me.exact.estimate, me.exact.lower, me.exact.upper)) against FP32 \(Text.interval(me.fp32Exact.estimate, me.fp32Exact.lower, me.fp32Exact.upper))"
            }
            intro += m.quantize.isEmpty ? "; every tensor kept as stored." : "."
        }
        return Section(id: id, title: "plan: \(name)", intro: intro, figures: [budget(p, id: id)] + p.models.enumerated().filter { !$0.element.quantize.isEmpty }.map { recipe($0.element, id: id + "-m\($0.offset + 1)") })
    }

    static func budget(_ p: Planner.Plan, id: String) -> Figure {
        var legend: [(Int, String, Figure.Swatch)] = []
        var ram: [(Double, Int)] = [], flash: [(Double, Int)] = [], weights: [(Double, Int)] = []
        var table: [[String]] = []
        for (i, m) in p.models.enumerated() {
            let pr = m.prediction
            let (activations, resident) = (pr.activationBytes, pr.ramBytes - pr.activationBytes)
            ram += [(100 * Double(activations) / Double(max(1, p.budget.ramBytes)), 3 * i), (100 * Double(resident) / Double(max(1, p.budget.ramBytes)), 3 * i + 1)]
            flash.append((100 * Double(pr.flashBytes) / Double(max(1, p.budget.flashBytes)), 3 * i + 2))
            legend += [(3 * i, "\(m.name): activations", .bar), (3 * i + 1, "\(m.name): weights in RAM", .bar), (3 * i + 2, "\(m.name): in flash", .bar)]
            if let cap = p.budget.maxWeightBytes { weights.append((100 * Double(pr.weightBytes) / Double(max(1, cap)), 3 * i + 1)) }
            table += [[m.name, "activations", String(activations), "RAM", String(p.budget.ramBytes)],
                      [m.name, "weights in RAM", String(resident), "RAM", String(p.budget.ramBytes)],
                      [m.name, "in flash (weights and streamed tables)", String(pr.flashBytes), "flash", String(p.budget.flashBytes)],
                      [m.name, "all weights", String(pr.weightBytes), "--max-bytes", p.budget.maxWeightBytes.map(String.init) ?? "none"]]
        }
        let totalRAM = p.models.reduce(0) { $0 + $1.prediction.ramBytes }, totalFlash = p.models.reduce(0) { $0 + $1.prediction.flashBytes }
        let totalWeights = p.models.reduce(0) { $0 + $1.prediction.weightBytes }
        var rows = [BarChart.Row(label: "RAM (\(p.device.name))", segments: ram.map { ($0.0, $0.1) },
                                 note: "\(Text.bytes(totalRAM)) of \(Text.bytes(p.budget.ramBytes))"),
                    BarChart.Row(label: "flash", segments: flash.map { ($0.0, $0.1) }, note: "\(Text.bytes(totalFlash)) of \(Text.bytes(p.budget.flashBytes))")]
        if let cap = p.budget.maxWeightBytes {
            rows.append(.init(label: "weights (--max-bytes)", segments: weights.map { ($0.0, $0.1) }, note: "\(Text.bytes(totalWeights)) of \(Text.bytes(cap))"))
        }
        let used = rows.map { $0.segments.reduce(0) { $0 + $1.value } }
        // Use far below capacity would draw as slivers: the axis then spans the use, and says capacity is off it.
        let zoomed = (used.max() ?? 0) < 20
        let chart = BarChart(x: zoomed ? .linear("share of capacity (%); capacity, 100%, is off the scale", values: used, include: [0])
                                       : .linear("share of capacity (%)", values: used, include: [0, 100]), rows: rows,
                             references: zoomed ? [] : [Reference(value: 100, label: "capacity", horizontal: false)], rowHeight: 28,
                             title: "Device budget: RAM, flash and weights against capacity")
        let share = { (a: Int, b: Int) -> String in
            let v = 100 * Double(a) / Double(max(1, b))
            return (v > 0 && v < 0.1 ? String(format: "%.2g", v) : Text.fixed(v, 1)) + "%"
        }
        var caption = "Predicted use of \(p.device.name) (weights live in \(p.device.weightMemory.rawValue)) as a share of capacity: "
        caption += "RAM \(totalRAM) of \(p.budget.ramBytes) bytes (\(share(totalRAM, p.budget.ramBytes))), flash \(totalFlash) of \(p.budget.flashBytes) bytes (\(share(totalFlash, p.budget.flashBytes)))"
        if let cap = p.budget.maxWeightBytes { caption += ", weights \(totalWeights) of --max-bytes \(cap) (\(share(totalWeights, cap)))" }
        caption += ". \(p.fits ? "Fits" : "Does not fit")."
        if zoomed { caption += " The axis spans the use, not the capacity (100%)." }
        return Figure(id: id + "-budget", title: "Device budget against capacity", svg: chart.render(),
                      legend: legend.filter { l in rows.contains { $0.segments.contains { $0.style == l.0 && $0.value > 0 } } }.map { ($0.0, $0.1, $0.2) },
                      caption: caption, table: Table(header: ["model", "part", "bytes", "against", "capacity bytes"], rows: table, numeric: [2, 4]))
    }

    static let methods = Method.allCases.map(\.rawValue)

    static func choiceText(_ c: TensorChoice) -> String {
        let g: String
        switch c.granularity {
        case .tensor: g = "per-tensor"
        case .channel: g = "per-channel"
        case let .group(n): g = "g\(n)"
        }
        return "int\(c.bits) \(g) \(c.method.rawValue)"
    }

    static func recipe(_ m: Planner.ModelPlan, id: String) -> Figure {
        let names = m.quantize.keys.sorted()
        let style = { (c: TensorChoice) in methods.firstIndex(of: c.method.rawValue) ?? 0 }
        let rows = names.map { n in
            BarChart.Row(label: n, segments: [(Double(m.quantize[n]!.bits), style(m.quantize[n]!))], note: choiceText(m.quantize[n]!))
        }
        let chart = BarChart(x: Axis(label: "bits per weight of the chosen format", lower: 0, upper: 8, ticks: [0, 2, 3, 4, 6, 8].map { (Double($0), String($0)) }),
                             rows: rows, title: "Recipe chosen for each tensor of \(m.name)")
        let counts = Dictionary(grouping: m.quantize.values.map(choiceText)) { $0 }.map { "\($0.value.count)× \($0.key)" }.sorted()
        var caption = "The format chosen for each quantized tensor of \(m.name) (bar: bits, colour: method), \(names.count) tensors: "
        caption += counts.isEmpty ? "none; every tensor is kept as stored." : counts.joined(separator: ", ") + "; tensors not listed are kept as stored."
        if !m.streamedTables.isEmpty { caption += " Streamed from flash: \(m.streamedTables.joined(separator: ", "))." }
        caption += " Predicted weight bytes \(m.prediction.weightBytes) (FP32 \(m.fp32Bytes))"
        if let me = m.measurement { caption += ", written \(me.writtenTensorBytes)" }
        caption += "."
        let used = Set(m.quantize.values.map(style)).sorted()
        return Figure(id: id + "-recipe", title: "Recipe chosen for each tensor: \(m.name)", svg: chart.render(),
                      legend: used.map { ($0, methods[$0], .bar) }, caption: caption,
                      table: Table(header: ["tensor", "choice"], rows: names.map { [$0, choiceText(m.quantize[$0]!)] }))
    }
}
