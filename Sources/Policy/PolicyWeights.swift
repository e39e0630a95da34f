import Crypto
import RecModel
import RecWire

/// Moves a policy's weights in and out of a ``ParameterPack`` (one vector, `q`), the form the broker averages
/// and ships, and names them by SHA-256.
public enum PolicyWeights {
    /// The pack of a network's parameters.
    public static func pack(_ network: QNetwork, step: UInt64 = 0) -> ParameterPack {
        ParameterPack(step: step, vectors: [.init(name: "q", values: network.network.flatParameters)])
    }

    /// The parameters in a pack.
    /// - Throws: ``PolicyError/weightsMismatch(expected:got:)`` when the pack has no `q` vector.
    public static func parameters(_ pack: ParameterPack, expected: Int) throws(PolicyError) -> [Float] {
        guard let q = pack["q"] else { throw .weightsMismatch(expected: expected, got: 0) }
        return q
    }

    /// SHA-256 (hex) of a network's encoded pack: equal hashes mean bit-identical weights.
    public static func sha256(_ network: QNetwork) -> String {
        sha256(of: pack(network).encoded())
    }

    /// SHA-256 (hex) of bytes.
    public static func sha256(of bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// A pack of Gaussian noise shaped like `network` (fault injection for the guard).
    public static func noise(like network: QNetwork, seed: UInt64, scale: Float = 1) -> ParameterPack {
        var rng = Xoshiro256(seed: seed)
        let values = network.network.flatParameters.map { _ in scale * rng.nextGaussian() }
        return ParameterPack(step: 0, vectors: [.init(name: "q", values: values)])
    }
}

#if canImport(Foundation)
    import Foundation
#endif
