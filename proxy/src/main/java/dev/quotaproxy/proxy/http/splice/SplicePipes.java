package dev.quotaproxy.proxy.http.splice;

import com.sun.jna.Library;
import com.sun.jna.Native;
import io.netty.channel.epoll.AbstractEpollStreamChannel;
import io.netty.channel.unix.FileDescriptor;
import java.io.IOException;
import java.lang.reflect.Field;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gives a client channel a larger splice pipe than Linux's 64 KiB default before Netty makes its own.
 * Each turn of the event loop moves at most one pipe's worth; with 64 KiB the proxy woke and spliced
 * four times as often per byte, and measured pulls ran at about 0.6 of direct instead of about 0.75.
 *
 * <p>Netty has no call for the pipe size (fcntl F_SETPIPE_SZ) and keeps the pipe in private fields,
 * so this uses JNA and reflection. Where either fails, Netty's own 64 KiB pipe is used: slower, same bytes.
 */
final class SplicePipes {
  private static final Logger LOG = LoggerFactory.getLogger(SplicePipes.class);
  /** Big enough to cut the wake-ups fourfold, small enough that data leaves while still in the CPU cache. */
  static final int PIPE_BYTES = 256 * 1024;
  /** From linux/fcntl.h: F_LINUX_SPECIFIC_BASE (1024) + 7. */
  private static final int F_SETPIPE_SZ = 1031;

  private static final Field PIPE_IN;
  private static final Field PIPE_OUT;
  private static final LibC LIBC;

  /** The one libc call Netty does not expose. */
  interface LibC extends Library {
    int fcntl(int fd, int command, int argument);
  }

  static {
    Field in = null;
    Field out = null;
    LibC libc = null;
    try {
      in = AbstractEpollStreamChannel.class.getDeclaredField("pipeIn");
      out = AbstractEpollStreamChannel.class.getDeclaredField("pipeOut");
      in.setAccessible(true);
      out.setAccessible(true);
      libc = Native.load("c", LibC.class);
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      LOG.info("splice pipes stay at the kernel's default size: {}", e.toString());
      in = null;
      out = null;
      libc = null;
    }
    PIPE_IN = in;
    PIPE_OUT = out;
    LIBC = libc;
  }

  private SplicePipes() {
  }

  /** Makes {@code target}'s splice pipe, sized {@link #PIPE_BYTES}, unless it has one; on its event loop. */
  static void prepare(AbstractEpollStreamChannel target) {
    if (LIBC == null) {
      return;
    }
    try {
      if (PIPE_IN.get(target) != null) {
        return;
      }
      FileDescriptor[] pipe = FileDescriptor.pipe();
      if (LIBC.fcntl(pipe[1].intValue(), F_SETPIPE_SZ, PIPE_BYTES) < 0) {
        // Over /proc/sys/fs/pipe-max-size, or out of the user's pipe allowance: Netty's default then.
        pipe[0].close();
        pipe[1].close();
        return;
      }
      // Netty closes both ends with the channel, as it would its own pipe.
      PIPE_IN.set(target, pipe[0]);
      PIPE_OUT.set(target, pipe[1]);
    } catch (IOException | IllegalAccessException e) {
      LOG.debug("splice pipe left to Netty: {}", e.toString());
    }
  }
}
