import Dispatch
import Synchronization

/// glibc keeps memory that was freed in its heaps, so the frame buffers of
/// connections that closed (a client that dropped a large half-sent frame,
/// say) would stay resident for good. A second after connections close,
/// crmd hands the free pages back to the system with malloc_trim, off the
/// event loops and at most once a second: the call path pays nothing.
enum MemoryTrimmer {
    private static let scheduled = Atomic<Bool>(false)

    static func connectionClosed() {
        guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        DispatchQueue.global(qos: .utility).asyncAfter(deadline: .now() + 1) {
            scheduled.store(false, ordering: .releasing)
            _ = glibcMallocTrim(0)
        }
    }
}

// <malloc.h> is not part of Swift's Glibc module.
@_silgen_name("malloc_trim") private func glibcMallocTrim(_ pad: Int) -> Int32
