// A module that only says hello: the shape of Falco's driver, none of its work.
#include <linux/init.h>
#include <linux/module.h>

static int __init hello_init(void)
{
	pr_info("hello from the test driver %s\n", DRIVER_VERSION);
	return 0;
}

static void __exit hello_exit(void)
{
	pr_info("goodbye from the test driver\n");
}

module_init(hello_init);
module_exit(hello_exit);
MODULE_LICENSE("GPL");
MODULE_VERSION(DRIVER_VERSION);
MODULE_DESCRIPTION("test driver");
