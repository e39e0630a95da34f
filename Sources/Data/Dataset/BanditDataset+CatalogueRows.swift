extension BanditDataset {
    /// The log with its items renumbered as the rows of a served catalogue, whose ids in row order are `ids`.
    ///
    /// A log read with a catalogue whose ids are exactly `0..<n` numbers its items by id (OBD's layout), while a
    /// served catalogue (the online policy's) numbers them by row; the two differ when such ids are not in file
    /// order. Rows never move, so the log's catalogue is the served one's first ``nActions`` rows, and item `k` of
    /// the log is the row ``ItemCatalogue/rowsOfLoggedItems(ids:)`` gives it. The actions, the action context's rows
    /// and the affinity's columns are renumbered together; a log whose numbers already are the rows (OBD, a shop's
    /// SKUs, fewer ids than items) is returned unchanged.
    ///
    /// A log read with a catalogue file (``itemIds``) must name the same item at each row as the served catalogue:
    /// the same SKUs in another row order, or other ids, would be learnt from or evaluated as other items. One
    /// numbering is kept as it was: a log whose ids are the item numbers `0..<n` against the simulator world's
    /// catalogue (named items) is read by row (item `k` is row `k`, that world's convention; `numberedByRow`).
    /// Logs without item ids (generated data) must have the served catalogue's item count.
    /// - Throws: ``DataError/inconsistent(_:)`` naming the first log item whose id is not the served catalogue's at
    ///   its row, or the two item counts.
    /// - Parameter numberedByRow: Whether a log numbering its items `0..<n` is read by row against a served catalogue
    ///   of named items: true only for the simulator world's catalogue, whose logs are numbered so; against a shop's
    ///   registry catalogue such a log names other items, and is refused.
    public func itemsAsCatalogueRows(ids: [String], numberedByRow: Bool = true) throws(DataError) -> BanditDataset {
        guard let itemIds, itemIds.count == nActions else {
            guard ids.count == nActions else {
                throw .inconsistent(
                    "the policy's catalogue has \(ids.count) items, the logs \(nActions) (logs without a catalogue "
                        + "file are matched to the served catalogue item for item)")
            }
            return self
        }
        guard ids.count >= nActions else {
            throw .inconsistent(
                "the policy's catalogue has \(ids.count) items, the logs \(nActions): the logs are not of this "
                    + "catalogue or an earlier version of it (rows never move)")
        }
        let rowOfItem = ItemCatalogue.rowsOfLoggedItems(ids: Array(ids.prefix(nActions)))
        let byRowNumber =
            numberedByRow && ItemIds.numberedRows(itemIds) != nil && ItemIds.numberedRows(Array(ids.prefix(nActions))) == nil
        if !byRowNumber, let item = (0..<nActions).first(where: { ids[rowOfItem[$0]] != itemIds[$0] }) {
            let served = ids.firstIndex(of: itemIds[item]).map { "is at row \($0) of the served catalogue" }
                ?? "is not in the served catalogue"
            throw .inconsistent(
                "\(name): the log's item \(item) is \(itemIds[item]) in its catalogue file but \(ids[rowOfItem[item]]) in "
                    + "the served catalogue (\(itemIds[item]) \(served)): the log was read with another catalogue file "
                    + "than the served version's (rows never move); read it with that version's catalogue "
                    + "(`recpool catalogue show`)")
        }
        guard rowOfItem != Array(0..<nActions) else { return self }
        var itemOfRow = [Int](repeating: 0, count: nActions)
        for (item, row) in rowOfItem.enumerated() { itemOfRow[row] = item }
        var out = self
        out.action = action.map { rowOfItem[$0] }
        if actionContext.rows == nActions { out.actionContext = actionContext.gather(itemOfRow) }
        func renumber(_ rows: SparseRows) -> SparseRows {
            var renumbered = SparseRows()
            for r in 0..<rows.rows {
                renumbered.append(
                    rows.entries(r).map { ($0.column < nActions ? rowOfItem[$0.column] : $0.column, $0.value) }
                        .sorted { $0.0 < $1.0 })
            }
            return renumbered
        }
        out.affinity = renumber(affinity)
        // The views name items too: the online policy reads them as served catalogue rows.
        out.viewedSeconds = viewedSeconds.map(renumber)
        // Item r is now the served catalogue's row r.
        out.itemIds = Array(ids.prefix(nActions))
        return out
    }
}
