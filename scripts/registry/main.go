package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	gorhandlers "github.com/gorilla/handlers"
	"github.com/sirupsen/logrus"

	_ "github.com/distribution/distribution/v3/registry/auth/htpasswd"             // auth: htpasswd
	_ "github.com/distribution/distribution/v3/registry/auth/token"                // auth: token (a token service in front)
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // storage: filesystem
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"   // storage: inmemory
)

func main() {
	if len(os.Args) != 3 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: registry serve CONFIG.yml")
		os.Exit(2)
	}
	if err := serve(os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "registry:", err)
		os.Exit(1)
	}
}

func serve(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	cfg, err := configuration.Parse(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := configureLogging(cfg); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := handlers.NewApp(ctx, cfg)
	var h http.Handler = app
	if !cfg.Log.AccessLog.Disabled {
		h = gorhandlers.CombinedLoggingHandler(os.Stdout, h)
	}
	addr := cfg.HTTP.Addr
	if addr == "" {
		addr = "127.0.0.1:5000"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	logrus.Infof("listening on %v", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return app.Shutdown()
}

func configureLogging(cfg *configuration.Configuration) error {
	level := string(cfg.Log.Level)
	if level == "" {
		level = "info"
	}
	l, err := logrus.ParseLevel(level)
	if err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	logrus.SetLevel(l)
	logrus.SetOutput(os.Stderr)
	if cfg.Log.Formatter == "json" {
		logrus.SetFormatter(&logrus.JSONFormatter{})
	} else {
		logrus.SetFormatter(&logrus.TextFormatter{DisableColors: true, FullTimestamp: true})
	}
	return nil
}
