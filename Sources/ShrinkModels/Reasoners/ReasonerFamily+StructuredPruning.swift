import Foundation

extension ReasonerFamily: StructurallyPrunable {
    /// Every block's hidden-axis SwiGLU (`intermediate_size`), in TRM-MLP its token MLP (`intermediate_size_t`),
    /// and in the attention variants its heads (`num_heads`, with `head_dim` written since hidden_size / num_heads
    /// no longer gives it).
    public var channelGroups: [ChannelGroup] {
        let c = config
        return levels.flatMap { level, layers in
            (0..<layers).flatMap { i -> [ChannelGroup] in
                let b = ReasonerNames.block(level, i)
                var g = [ChannelGroup(.mlp, producer: b.gateUp, stacks: 2, consumer: b.down, width: c.mlpWidth, configField: "intermediate_size")]
                if c.mlpT {
                    g.append(ChannelGroup(.mlp, producer: b.tokenGateUp, stacks: 2, consumer: b.tokenDown, width: c.tokenMLPWidth,
                                          configField: "intermediate_size_t"))
                } else {
                    g.append(ChannelGroup(.heads, producer: b.qkv, stacks: 3, consumer: b.output, width: c.numHeads, unit: c.headDim,
                                          configField: "num_heads", fixedFields: ["head_dim": c.headDim]))
                }
                return g
            }
        }
    }
}
