import Foundation
import Logging
import NIOCore
import NIOPosix

/// Listens on the Unix socket and runs one `ConnectionHandler` per client,
/// on one event loop per core.
final class RPCServer: @unchecked Sendable {
    private let shared: ServerShared
    private let group: MultiThreadedEventLoopGroup
    private var listener: Channel?

    init(shared: ServerShared) {
        self.shared = shared
        group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
    }

    func start() throws {
        let path = shared.config.socketPath
        try SocketFile.prepare(path)
        let shared = self.shared
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator())
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(shared: shared))
                }
            }
        listener = try SocketFile.withMode(shared.config.socketMode) {
            try bootstrap.bind(unixDomainSocketPath: path).wait()
        }
        shared.logger.info("listening", metadata: ["socket": "\(path)"])
    }

    /// Stops accepting, lets calls in flight finish for up to the grace
    /// period, then closes what is left. Blocks the calling thread.
    func shutdown(grace: TimeAmount) {
        shared.health.stopServing()
        try? listener?.close().wait()
        unlink(shared.config.socketPath)
        shared.connections.forEach { $0.beginShutdown() }
        let deadline = NIODeadline.now() + grace
        while shared.connections.count > 0 && NIODeadline.now() < deadline {
            usleep(5_000)
        }
        if shared.connections.count > 0 {
            shared.logger.warning("grace period over; closing connections with calls in flight",
                                  metadata: ["connections": "\(shared.connections.count)"])
            shared.connections.forEach { $0.forceClose() }
            usleep(50_000)
        }
        try? group.syncShutdownGracefully()
    }
}
