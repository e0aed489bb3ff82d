// Bounded lock-free single-producer / single-consumer ring: how the real-time thread and the
// slow side talk. Push never waits: when the ring is full it returns false and the caller
// counts the drop. Only trivial (bitwise-copyable) element types: no references cross threads.

import Atomics

public final class SPSCQueue<Element>: @unchecked Sendable {
    private let storage: UnsafeMutablePointer<Element>
    private let capacity: Int
    /// Next slot to read (owned by the consumer).
    private let head = ManagedAtomic<Int>(0)
    /// Next slot to write (owned by the producer).
    private let tail = ManagedAtomic<Int>(0)
    /// Pushes refused because the ring was full.
    public let dropped = ManagedAtomic<UInt64>(0)

    public init(capacity: Int) {
        precondition(capacity > 1)
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// Producer side. Never blocks, never allocates.
    @discardableResult
    public func push(_ e: Element) -> Bool {
        let t = tail.load(ordering: .relaxed)
        let next = t + 1 == capacity ? 0 : t + 1
        if next == head.load(ordering: .acquiring) {
            dropped.wrappingIncrement(ordering: .relaxed)
            return false
        }
        (storage + t).initialize(to: e)
        tail.store(next, ordering: .releasing)
        return true
    }

    /// Consumer side.
    public func pop() -> Element? {
        let h = head.load(ordering: .relaxed)
        if h == tail.load(ordering: .acquiring) { return nil }
        let e = (storage + h).move()
        head.store(h + 1 == capacity ? 0 : h + 1, ordering: .releasing)
        return e
    }
}
