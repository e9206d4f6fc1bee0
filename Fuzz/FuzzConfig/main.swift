import Foundation
import FuzzSupport
import ShrinkModels


/// libFuzzer target: a `config.json` for every family (`ModelRegistry.family(config:file:)` picks the family as
/// the product does). An accepted config is used as accounting uses one: its tensor layout, fold pairs and
/// forward cost.
func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    guard let family = try? ModelRegistry.family(config: bytes, file: "config.json") else { return 0 }
    fuzzSink(family.variant)
    fuzzSink(family.tensorLayout)
    fuzzSink(family.scaleFolds)
    fuzzSink(family.cost(CostQuery()))
    fuzzSink(family.cost(CostQuery(steps: 1, context: 1)))
    return 0
}

fuzzMain(fuzzConfig)
