// SPDX-License-Identifier: GPL-2.0-only
/*
 * lkvm_lite: module entry and the /dev/lkvm_lite device.
 *
 * The device answers the system-wide ioctls: the API version, the
 * capability query and VM creation. Everything a guest needs hangs off
 * the file descriptors created from here.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/uaccess.h>

#include <linux/lkvm_lite.h>
#include "lkvm.h"

static long lkvm_dev_check_cap(struct lkvm_cap __user *ucap)
{
	struct lkvm_cap cap;

	if (copy_from_user(&cap, ucap, sizeof(cap)))
		return -EFAULT;
	if (cap.flags || cap.value)
		return -EINVAL;
	cap.value = lkvm_svm_cap(cap.cap) | lkvm_vm_cap(cap.cap);
	if (copy_to_user(ucap, &cap, sizeof(cap)))
		return -EFAULT;
	return 0;
}

static long lkvm_dev_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case LKVM_GET_API_VERSION:
		if (arg)
			return -EINVAL;
		return LKVM_API_VERSION;
	case LKVM_CHECK_CAP:
		return lkvm_dev_check_cap((struct lkvm_cap __user *)arg);
	case LKVM_CREATE_VM:
		return lkvm_create_vm(arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations lkvm_dev_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = lkvm_dev_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

static struct miscdevice lkvm_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "lkvm_lite",
	.fops = &lkvm_dev_fops,
	/* Running guests is a privilege; an administrator may widen it. */
	.mode = 0600,
};

static int __init lkvm_init(void)
{
	int ret;

	ret = lkvm_svm_init();
	if (ret)
		return ret;
	lkvm_run_init();

	ret = lkvm_net_init();
	if (ret)
		goto out_svm_exit;
	ret = misc_register(&lkvm_dev);
	if (ret) {
		pr_err("not loaded: cannot register /dev/lkvm_lite: %d\n", ret);
		goto out_net_exit;
	}
	return 0;

out_net_exit:
	lkvm_net_exit();
out_svm_exit:
	lkvm_svm_exit();
	return ret;
}

static void __exit lkvm_exit(void)
{
	misc_deregister(&lkvm_dev);
	lkvm_net_exit();
	lkvm_svm_exit();
}

module_init(lkvm_init);
module_exit(lkvm_exit);

MODULE_DESCRIPTION("lkvm-lite: an in-kernel VMM for AMD SVM");
MODULE_LICENSE("GPL");
