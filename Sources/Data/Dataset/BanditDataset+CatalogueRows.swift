extension BanditDataset {
    /// The log with its items renumbered as the rows of a served catalogue, whose ids in row order are `ids`.
    ///
    /// A log read with a catalogue whose ids are exactly `0..<n` numbers its items by id (OBD's layout), while a
    /// served catalogue (the online policy's) numbers them by row; the two differ when such ids are not in file
    /// order. Rows never move, so the log's catalogue is the served one's first ``nActions`` rows, and item `k` of
    /// the log is the row ``ItemCatalogue/rowsOfLoggedItems(ids:)`` gives it. The actions, the action context's rows
    /// and the affinity's columns are renumbered together; a log whose numbers already are the rows (OBD, a shop's
    /// SKUs, fewer ids than items) is returned unchanged.
    public func itemsAsCatalogueRows(ids: [String]) -> BanditDataset {
        guard ids.count >= nActions else { return self }
        let rowOfItem = ItemCatalogue.rowsOfLoggedItems(ids: Array(ids.prefix(nActions)))
        guard rowOfItem != Array(0..<nActions) else { return self }
        var itemOfRow = [Int](repeating: 0, count: nActions)
        for (item, row) in rowOfItem.enumerated() { itemOfRow[row] = item }
        var out = self
        out.action = action.map { rowOfItem[$0] }
        if actionContext.rows == nActions { out.actionContext = actionContext.gather(itemOfRow) }
        var renumbered = SparseRows()
        for r in 0..<affinity.rows {
            renumbered.append(
                affinity.entries(r).map { ($0.column < nActions ? rowOfItem[$0.column] : $0.column, $0.value) })
        }
        out.affinity = renumbered
        return out
    }
}
