import Foundation
import SyncCore

/// A verified change and the values storing it takes, made on the thread that verified it: the
/// database's writer (SQLite's one thread, PostgreSQL's row lock on the diary) is what every push waits for, so it
/// should bind and write, not format.
/// A class, so that keeping it costs the writer one reference rather than one for each of its parts.
public final class StorableChange: Sendable {
    let change: Change
    /// The canonical wire form, as received (with `"sig"`).
    let body: [UInt8]
    let id: String
    let record: String
    let stamp: String

    init(_ received: ReceivedChange) {
        let change = received.change
        self.change = change
        body = received.wireBytes
        id = change.id.canonical
        record = change.record.canonical
        stamp = change.stamp.text
    }
}

/// The verified changes of one push, in order, by one device.
public struct StorableBatch: Sendable {
    let changes: [StorableChange]
    /// The ids of the records the changes write, as a JSON list of strings: one parameter for the query
    /// that loads them (SQLite's `json_each`, PostgreSQL's `jsonb_array_elements_text`), made before
    /// the batch waits for the writer.
    let recordList: String
    /// The pushing device, the author of every change (checked).
    let author: String
    /// When the push arrived.
    let receivedAt: Date

    init(_ changes: [StorableChange], author: String, receivedAt: Date) {
        self.changes = changes
        self.author = author
        self.receivedAt = receivedAt
        recordList = "[" + changes.map { "\"" + $0.record + "\"" }.joined(separator: ",") + "]"
    }
}
