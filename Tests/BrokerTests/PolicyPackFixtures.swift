import RecPolicy
import RecWire

extension ParameterPack {
    /// This pack with `shift` added to every value of the vector `name` (a replica's learning, as a test fakes it).
    func shifting(_ name: String, by shift: Float) -> ParameterPack {
        var copy = self
        for k in copy.vectors.indices where copy.vectors[k].name == name {
            copy.vectors[k].values = copy.vectors[k].values.map { $0 + shift }
        }
        return copy
    }
}
