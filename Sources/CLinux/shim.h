#ifndef MURMUR_CLINUX_SHIM_H
#define MURMUR_CLINUX_SHIM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <signal.h>
#include <pthread.h>
#include <poll.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>

/* accept4 is a GNU extension; declare it rather than defining _GNU_SOURCE globally. */
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);
extern int pipe2(int pipefd[2], int flags);
/* Block-scope declaration: keeps `environ` itself out of Swift (Glibc may export it too). */
static inline char **clinux_environ(void) { extern char **environ; return environ; }

/* errno is a macro over a thread-local; Swift cannot read it directly on every libc. */
static inline int clinux_errno(void) { return errno; }
static inline void clinux_set_errno(int value) { errno = value; }

/* Flag values that Swift imports awkwardly (enum members or macros over enums). */
static inline int clinux_sock_nonblock_cloexec(void) { return SOCK_NONBLOCK | SOCK_CLOEXEC; }
static inline int clinux_sock_stream(void) { return SOCK_STREAM; }
static inline int clinux_epoll_cloexec(void) { return EPOLL_CLOEXEC; }
static inline int clinux_efd_flags(void) { return EFD_NONBLOCK | EFD_CLOEXEC; }
static inline int clinux_sfd_flags(void) { return SFD_NONBLOCK | SFD_CLOEXEC; }
static inline unsigned int clinux_epollin(void) { return EPOLLIN; }
static inline unsigned int clinux_epollout(void) { return EPOLLOUT; }
static inline unsigned int clinux_epollerr(void) { return EPOLLERR; }
static inline unsigned int clinux_epollhup(void) { return EPOLLHUP; }
static inline unsigned int clinux_epollrdhup(void) { return EPOLLRDHUP; }

/* epoll_event is packed on x86-64; keep field access on the C side. */
static inline int clinux_epoll_ctl(int epfd, int op, int fd, unsigned int events, unsigned long long data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
static inline int clinux_epoll_wait(int epfd, struct epoll_event *events, int max, int timeout_ms) {
    return epoll_wait(epfd, events, max, timeout_ms);
}
static inline unsigned int clinux_epoll_event_events(const struct epoll_event *events, int i) { return events[i].events; }
static inline unsigned long long clinux_epoll_event_data(const struct epoll_event *events, int i) { return events[i].data.u64; }
static inline unsigned long clinux_sizeof_epoll_event(void) { return sizeof(struct epoll_event); }

/* Blocks SIGINT and SIGTERM for the calling thread (and threads it creates) and returns a signalfd for them. */
static inline int clinux_signalfd_int_term(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}
static inline int clinux_unblock_int_term(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
static inline unsigned long clinux_sizeof_signalfd_siginfo(void) { return sizeof(struct signalfd_siginfo); }
static inline unsigned int clinux_signalfd_signo(const void *info) { return ((const struct signalfd_siginfo *)info)->ssi_signo; }
#endif
