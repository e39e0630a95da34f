import Foundation
import RecData

/// A small shop written by the tests: 100 impressions over 5 items, a user id, a dwell time, a categorical
/// `device` and a numeric `age`; the catalogue has a categorical `brand` and a numeric `price`. Rows are written
/// out of time order. Rows from time 90 on (the newest tenth) come from a device value, `late`, that no older row
/// has, so a specification fitted on anything but the oldest rows would know it.
enum ShopFixture {
    static let schema = """
        [logs]
        timestamp = "ts"
        item = "sku"
        position = "slot"
        click = "clicked"
        propensity = "p"
        user = "visitor"
        dwell = "seconds"
        ignore = ["note"]
        [logs.user_features]
        device = "categorical"
        age = "numeric"
        [catalogue]
        file = "items.csv"
        item = "sku"
        [catalogue.item_features]
        brand = "categorical"
        price = "numeric"
        price_band = "numeric"
        """

    /// The committed OBD fixture (`random/men`): specs fitted on it keep format version 1.
    static func obdLike() throws -> BanditDataset {
        try OBDLoader.load(OBDSource("random/men")!, obdDirectory: Paths.fixtures + "/obd")
    }

    /// Writes `logs.csv`, `items.csv` and `shop.toml` into a fresh folder and returns its path.
    static func write(in folder: String, extraLogColumn: Bool = false) throws -> String {
        var log = ["note,ts,sku,slot,clicked,p,visitor,seconds,device,age" + (extraLogColumn ? ",stray" : "")]
        for t in (0..<100).reversed() {
            let device = t >= 90 ? "late" : ["ios", "android", "web"][t % 3]
            let clicked = t % 7 == 0 ? 1 : 0
            log.append(
                "n\(t),\(1_000 + t),\(t % 5),\(t % 3 + 1),\(clicked),0.2,u\(t % 10),\(t % 4 * 5),\(device),\(20 + t % 30)"
                    + (extraLogColumn ? ",x" : ""))
        }
        let items = ["sku,brand,price,price_band"] + (0..<5).map { "\($0),b\($0 % 2),\(10 + 3 * $0).5,\($0 % 3)" }
        try log.joined(separator: "\n").write(toFile: folder + "/logs.csv", atomically: true, encoding: .utf8)
        try items.joined(separator: "\n").write(toFile: folder + "/items.csv", atomically: true, encoding: .utf8)
        try schema.write(toFile: folder + "/shop.toml", atomically: true, encoding: .utf8)
        return folder
    }
}
