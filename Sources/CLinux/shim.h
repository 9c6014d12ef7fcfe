#ifndef MURMUR_CLINUX_SHIM_H
#define MURMUR_CLINUX_SHIM_H
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <fcntl.h>
#include <errno.h>
#include <unistd.h>

/* accept4 is a GNU extension; declare it rather than defining _GNU_SOURCE globally. */
extern int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags);

/* errno is a macro over a thread-local; Swift cannot read it directly on every libc. */
static inline int clinux_errno(void) { return errno; }
static inline void clinux_set_errno(int value) { errno = value; }
#endif
