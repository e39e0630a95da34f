/// Arithmetic that cannot trap, for numbers that came from the wire, a file or a flag.
///
/// Swift traps on overflow, so `deadline + grace` with a client's `deadline_ms` of 2⁶⁴−1 would end
/// the process. Every sum or product of an untrusted integer goes through these instead: the
/// result stops at the type's bound, which for a time means "never", for a size "too large" (and
/// is then refused by the limit it is compared with).
extension FixedWidthInteger {
    /// `self + other`, or the type's bound in the direction of the overflow.
    @inlinable
    public func addingSaturating(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// `self - other`, or the type's bound in the direction of the overflow (0 for unsigned types).
    @inlinable
    public func subtractingSaturating(_ other: Self) -> Self {
        let (difference, overflow) = subtractingReportingOverflow(other)
        guard overflow else { return difference }
        return other > 0 ? .min : .max
    }

    /// `self × other`, or the type's bound in the direction of the overflow.
    @inlinable
    public func multipliedSaturating(by other: Self) -> Self {
        let (product, overflow) = multipliedReportingOverflow(by: other)
        guard overflow else { return product }
        return (self < 0) == (other < 0) ? .max : .min
    }
}

extension Double {
    /// This value as an `Int`, clamped to `Int`'s range; NaN becomes 0. `Int(x)` traps on NaN,
    /// infinities and values out of range.
    @inlinable
    public var clampedToInt: Int {
        guard !isNaN else { return 0 }
        if self >= 9.223_372_036_854_775_807e18 { return .max }
        if self <= -9.223_372_036_854_775_808e18 { return .min }
        return Int(self)
    }
}
