import Foundation
import FuzzSupport
import ShrinkPlan


/// libFuzzer target: a device profile (`shrink plan --device my.json`), the planner's other input file.
func fuzzDeviceProfile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = Data(UnsafeRawBufferPointer(start: data, count: size))
    fuzzSink(try? DeviceProfile.parse(bytes, file: "device.json"))
    return 0
}

fuzzMain(fuzzDeviceProfile)
