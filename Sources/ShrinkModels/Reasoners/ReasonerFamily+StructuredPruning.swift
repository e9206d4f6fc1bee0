import Foundation

extension ReasonerFamily: StructurallyPrunable {
    /// Every block's hidden-axis SwiGLU (`intermediate_size`) and, in TRM-MLP, its token MLP (`intermediate_size_t`).
    public var channelGroups: [ChannelGroup] {
        levels.flatMap { level, layers in
            (0..<layers).flatMap { i -> [ChannelGroup] in
                let b = ReasonerNames.block(level, i)
                var g = [ChannelGroup(producer: b.gateUp, stacks: 2, consumer: b.down, width: config.mlpWidth, configField: "intermediate_size")]
                if config.mlpT {
                    g.append(ChannelGroup(producer: b.tokenGateUp, stacks: 2, consumer: b.tokenDown, width: config.tokenMLPWidth, configField: "intermediate_size_t"))
                }
                return g
            }
        }
    }
}
