/// Hyperparameters of a decoder-only transformer, named as HF config.json names them. GGUF metadata
/// (`llama.embedding_length`, …) and config.json both produce this one struct.
public struct ModelConfig: Sendable, Equatable, Codable {
    /// How RoPE pairs dimensions inside a head.
    public enum RopeStyle: String, Sendable, Codable {
        /// Dims (2i, 2i+1) rotate together: GGUF `llama` files, whose Q/K rows the converter permuted.
        case adjacent
        /// Dims (i, i + head_dim/2) rotate together: HF checkpoints, and GGUF `qwen2`.
        case neox
    }

    /// The family: its GGUF general.architecture, the key of ArchitectureSpec.registry (HF model_type maps to it).
    public var architecture: String
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var vocabSize: Int
    public var maxPositionEmbeddings: Int
    public var rmsNormEps: Float
    public var ropeTheta: Float
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry a bias (qwen2 always; llama when `attention_bias`).
    public var attentionBias: Bool
    public var ropeStyle: RopeStyle
    /// Mixture-of-experts routing (qwen2moe, mixtral); nil for dense families.
    public var moe: MoE?

    // Llama 3 and Mistral.
    /// Llama 3 RoPE scaling as config.json states it (`rope_type: llama3`); nil for unscaled RoPE. GGUF files
    /// carry the scaled frequencies as the tensor `rope_freqs.weight` instead (RopeScaling.swift).
    public var ropeScaling: Llama3RopeScaling?
    /// Sliding-window attention: a position attends to itself and the `slidingWindow − 1` before it (Mistral's
    /// `sliding_window`); nil attends to every earlier position.
    public var slidingWindow: Int?

    // Settings of the Gemma 2/3 and Phi-3 families; nil where a family has no such setting.
    /// Attention scores pass through cap·tanh(s/cap) before the mask (Gemma 2 `attn_logit_softcapping`).
    public var attnLogitSoftcapping: Float?
    /// Logits pass through cap·tanh(z/cap) (Gemma 2 `final_logit_softcapping`).
    public var finalLogitSoftcapping: Float?
    /// Attention scores are scaled by 1/√query_pre_attn_scalar instead of 1/√head_dim (Gemma).
    public var queryPreAttnScalar: Float?
    /// Which layers attend through the sliding window (config.json `layer_types` "sliding_attention"); nil: all
    /// when `slidingWindow` is set.
    public var slidingLayers: [Bool]?
    /// RoPE base of the sliding layers (Gemma 3 `rope_local_base_freq`); `ropeTheta` is the full layers'.
    public var ropeLocalTheta: Float?
    /// Dimensions of each head that RoPE rotates (`partial_rotary_factor` · head_dim); nil: all of them.
    public var ropeDimensions: Int?
    /// Phi-3's LongRoPE scaling (`rope_type: longrope`); nil for unscaled RoPE.
    public var longRope: Phi3LongRope?

    /// Whether layer `l` attends through the sliding window.
    public func isSliding(_ l: Int) -> Bool {
        slidingWindow != nil && (slidingLayers.map { l < $0.count && $0[l] } ?? true)
    }

    public init(architecture: String, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int, vocabSize: Int,
                maxPositionEmbeddings: Int, rmsNormEps: Float, ropeTheta: Float, tieWordEmbeddings: Bool,
                attentionBias: Bool, ropeStyle: RopeStyle,
                ropeScaling: Llama3RopeScaling? = nil, slidingWindow: Int? = nil, moe: MoE? = nil) {
        self.architecture = architecture
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim
        self.vocabSize = vocabSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.ropeStyle = ropeStyle
        self.ropeScaling = ropeScaling
        self.slidingWindow = slidingWindow
        self.moe = moe
    }
}

extension ModelConfig {
    /// The routed MLP of a mixture-of-experts family: each token goes to `expertsPerToken` of `experts` expert
    /// MLPs (SwiGLU, `expertIntermediateSize` wide) by a softmax router, plus an optional shared expert.
    public struct MoE: Sendable, Equatable, Codable {
        /// config.json `num_experts` / `num_local_experts`, GGUF `expert_count`.
        public var experts: Int
        /// `num_experts_per_tok`, GGUF `expert_used_count` (the k of top-k).
        public var expertsPerToken: Int
        /// `moe_intermediate_size` (mixtral: `intermediate_size`), GGUF `expert_feed_forward_length`.
        public var expertIntermediateSize: Int
        /// `shared_expert_intermediate_size`, GGUF `expert_shared_feed_forward_length`; 0 when there is none.
        public var sharedExpertIntermediateSize: Int
        /// `norm_topk_prob`: the k selected softmax weights are divided by their sum.
        public var normTopKProb: Bool
        /// Layers with a dense MLP (`intermediate_size` wide) instead of experts: config.json's `mlp_only_layers`
        /// and the layers `decoder_sparse_step` skips; in GGUF, the layers without `ffn_gate_inp`.
        public var denseLayers: [Int]

        public init(experts: Int, expertsPerToken: Int, expertIntermediateSize: Int, sharedExpertIntermediateSize: Int,
                    normTopKProb: Bool, denseLayers: [Int]) {
            self.experts = experts
            self.expertsPerToken = expertsPerToken
            self.expertIntermediateSize = expertIntermediateSize
            self.sharedExpertIntermediateSize = sharedExpertIntermediateSize
            self.normTopKProb = normTopKProb
            self.denseLayers = denseLayers
        }
    }

    /// Whether layer `l` routes to experts (has the mlp.hook_router_logits / hook_expert_weights points).
    public func routes(_ l: Int) -> Bool {
        guard let moe else { return false }
        return !moe.denseLayers.contains(l)
    }
}
