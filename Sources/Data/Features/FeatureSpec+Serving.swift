extension FeatureSpec {
    /// Why a checkpoint's embedded feature specification cannot serve RECOMMEND for a model `inputWidth` features
    /// wide, in words, or `nil` when it can (or when `bytes` is empty: a checkpoint without one scores rows only).
    ///
    /// It must decode (``decode(_:)``) and be exactly `inputWidth` wide. The registry (`import`, `promote`) and a
    /// worker installing WEIGHTS both refuse a checkpoint that fails, so RECOMMEND never answers "no feature
    /// specification" for a model that shipped a broken one.
    public static func servingProblem(_ bytes: [UInt8], inputWidth: Int) -> String? {
        guard !bytes.isEmpty else { return nil }
        let spec: FeatureSpec
        do {
            spec = try FeatureSpec.decode(bytes)
        } catch {
            return "its feature specification does not decode: \(error)"
        }
        guard spec.width == inputWidth else {
            return "its feature specification is \(spec.width) features wide, its model \(inputWidth)"
        }
        return nil
    }
}
