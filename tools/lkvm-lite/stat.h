/* SPDX-License-Identifier: GPL-2.0 */
#ifndef LKVM_LITE_STAT_H
#define LKVM_LITE_STAT_H

/* lkvm-lite stat (stat.c): a running VM's counters; the process's exit status. */
int cmd_stat(int argc, char **argv);

#endif /* LKVM_LITE_STAT_H */
