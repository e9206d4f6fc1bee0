import Foundation
import ShrinkPlan
import ShrinkTestSupport
import Testing

@Test(arguments: ["jetson-orin-nano-8gb", "soc-8mb-sram", "mcu-4mb"])
func builtInProfilesParseAndCiteTheirFigures(name: String) throws {
    let p = try DeviceProfile.resolve(name)
    #expect(p.name == name)
    for field in ["ram_bytes", "flash_bytes", "flops_per_second", "bandwidth_bytes_per_second"] { #expect(p.sources[field] != nil, "\(field)") }
    // A copy written out and read back is the same profile.
    let tmp = TemporaryDirectory()
    try p.json().write(toFile: tmp.file("p.json"), atomically: true, encoding: .utf8)
    #expect(try DeviceProfile.resolve(tmp.file("p.json")) == p)
}

@Test func malformedProfilesNameFileAndField() throws {
    let tmp = TemporaryDirectory()
    var json = try JSONSerialization.jsonObject(with: Data(try DeviceProfile.resolve("mcu-4mb").json().utf8)) as! [String: Any]
    json.removeValue(forKey: "flash_bytes")
    let file = tmp.file("missing.json")
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
    #expect(throws: PlanError.badProfile(file: file, field: "flash_bytes", reason: "is missing")) { try DeviceProfile.resolve(file) }

    json["flash_bytes"] = -1
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
    #expect(throws: PlanError.badProfile(file: file, field: "flash_bytes", reason: "must be a positive number, is -1.0")) { try DeviceProfile.resolve(file) }

    json["flash_bytes"] = 1
    json["weight_memory"] = "disk"
    try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: file))
    #expect(throws: PlanError.badProfile(file: file, field: "weight_memory", reason: "must be \"ram\" or \"flash\"")) { try DeviceProfile.resolve(file) }

    #expect(throws: PlanError.unknownDevice(name: "pdp-11", known: DeviceProfile.builtInNames)) { try DeviceProfile.resolve("pdp-11") }
}

@Test func thisMachineIsMeasured() {
    let p = DeviceProfile.measureThisMachine(bandwidthMegabytes: 16)
    #expect(p.ramBytes > 1 << 30)
    #expect(p.bandwidthBytesPerSecond > 1e6)  // a debug build on a busy machine reads far slower than the hardware
    #expect(p.flopsPerSecond > 1e8)
}

@Test func knapsackEqualsBruteForceAndNeverExceedsTheBudget() {
    var rng = TestRandom(seed: 7)
    for trial in 0..<300 {
        let items = (0..<(1 + Int(rng.next() % 5))).map { _ in
            (0..<(1 + Int(rng.next() % 4))).map { _ in
                MultipleChoiceKnapsack.Option(cost: Int(rng.next() % 40), error: Double(rng.next() % 1000) / 100)
            }
        }
        let budget = Int(rng.next() % 120)
        let dp = MultipleChoiceKnapsack.solve(items, budget: budget)
        let brute = MultipleChoiceKnapsack.bruteForce(items, budget: budget)
        #expect((dp == nil) == (brute == nil), "trial \(trial)")
        guard let dp, let brute else { continue }
        #expect(abs(dp.error - brute.error) < 1e-9, "trial \(trial)")
        #expect(dp.cost <= budget)
        // Coarse units trade optimality for size but keep the budget.
        if let coarse = MultipleChoiceKnapsack.solve(items, budget: budget, unit: 7) {
            #expect(coarse.cost <= budget)
            #expect(coarse.error >= brute.error - 1e-9)
        }
    }
}
